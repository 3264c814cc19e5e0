import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contextFromTraceparent, initTelemetry, shutdownTelemetry, traceparentOf, traceparentOfSpan, tracer } from "./telemetry.js";

describe("traceparentOfSpan", () => {
  beforeAll(() => initTelemetry("telemetry-test", new InMemorySpanExporter()));
  afterAll(() => shutdownTelemetry());

  it("formats the traceparent the registered W3C propagator injects", () => {
    const span = tracer().startSpan("parent");
    const viaPropagator = traceparentOf(trace.setSpan(context.active(), span));
    expect(viaPropagator).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]$/);
    expect(traceparentOfSpan(span)).toBe(viaPropagator);
    span.end();
  });

  it("gives a child started from it the same trace", () => {
    const span = tracer().startSpan("parent");
    const child = tracer().startSpan("child", {}, contextFromTraceparent(traceparentOfSpan(span)));
    expect(child.spanContext().traceId).toBe(span.spanContext().traceId);
    child.end();
    span.end();
  });

  it("is empty for a span with no valid context", () => {
    expect(traceparentOfSpan(trace.wrapSpanContext({ traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: 0 }))).toBe("");
  });
});
