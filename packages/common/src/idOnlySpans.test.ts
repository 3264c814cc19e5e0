import { context, isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { idOnlySpan } from "./telemetry.js";

describe("id-only spans", () => {
  it("stay in the parent's trace with an id of their own, and record nothing", () => {
    const parent = trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED });
    const span = idOnlySpan(trace.setSpan(context.active(), parent));
    const ids = span.spanContext();
    expect([ids.traceId, ids.traceFlags, isSpanContextValid(ids)]).toEqual(["0af7651916cd43dd8448eb211c80319c", TraceFlags.SAMPLED, true]);
    expect(ids.spanId).not.toBe("b7ad6b7169203331");
    expect(span.isRecording()).toBe(false);
  });

  it("start a sampled trace of their own without a parent, every one with new ids", () => {
    const spans = Array.from({ length: 1_000 }, () => idOnlySpan(ROOT_CONTEXT).spanContext());
    expect(spans.every((ids) => isSpanContextValid(ids) && ids.traceFlags === TraceFlags.SAMPLED)).toBe(true);
    expect(new Set(spans.map((ids) => ids.spanId)).size).toBe(1_000);
    expect(new Set(spans.map((ids) => ids.traceId)).size).toBe(1_000);
  });
});
