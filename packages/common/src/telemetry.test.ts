import { context, defaultTextMapGetter, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contextFromTraceparent, initTelemetry, shutdownTelemetry, traceparentOf, traceparentOfSpan, tracer, withSpan } from "./telemetry.js";

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

describe("contextFromTraceparent", () => {
  const propagator = new W3CTraceContextPropagator();
  const headers = [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03 ",
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    "garbage",
  ];

  it("reads every header as the W3C propagator does", () => {
    for (const traceparent of headers) {
      const viaPropagator = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
      expect(context.with(ROOT_CONTEXT, () => trace.getSpanContext(contextFromTraceparent(traceparent))), traceparent).toEqual(viaPropagator);
    }
  });

  it("leaves the active context as it is for an empty header", () => {
    expect(contextFromTraceparent("")).toBe(context.active());
  });
});

describe("withSpan when nothing exports", () => {
  it("makes an id-only child of the parent the active span for its function", async () => {
    const parentHeader = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const inside = await withSpan("task.run", { "task.id": "t" }, async (span) => ({ span, active: traceparentOf() }), contextFromTraceparent(parentHeader));
    expect(inside.span.isRecording()).toBe(false);
    expect(inside.active).toBe(traceparentOfSpan(inside.span));
    expect(inside.active).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(inside.active).not.toBe(parentHeader);
  });
});
