// Spans that record nothing but carry real ids, for a scheduler whose spans go nowhere.
import { randomFillSync } from "node:crypto";
import { isSpanContextValid, trace, TraceFlags, type Context, type Span } from "@opentelemetry/api";

/** Random bytes drawn a block at a time: an id costs a slice of it, not a call into the system's generator. */
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString("hex", used - bytes, used);
}

/**
 * A span of the parent's trace (a new trace without one) that keeps only its ids: what a
 * traceparent on a launch and history's trace link need. With no exporter the SDK's spans are
 * dropped at their end anyway, and building them (attributes copied, two clock reads, the
 * sampler and processor calls) was about 7% of the scheduler's CPU on the empty-task bench.
 */
export function idOnlySpan(parent: Context): Span {
  const parentIds = trace.getSpanContext(parent);
  const inTrace = parentIds !== undefined && isSpanContextValid(parentIds);
  return trace.wrapSpanContext({
    traceId: inTrace ? parentIds.traceId : randomHex(16),
    spanId: randomHex(8),
    traceFlags: inTrace ? parentIds.traceFlags : TraceFlags.SAMPLED,
  });
}
