import { contextFromTraceparent, tracer } from "@ballast/common/telemetry";

/**
 * A span event for a command dropped by the epoch fence, in the task's trace
 * when the command carries one, so failover traces show what the old leader
 * still tried to do.
 */
export function recordFenced(details: Record<string, string | number>, traceparent?: string): void {
  const span = tracer().startSpan("executor.fenced", { attributes: details }, contextFromTraceparent(traceparent));
  span.addEvent("command from an older scheduler epoch ignored", details);
  span.end();
}
