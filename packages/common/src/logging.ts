import { trace } from "@opentelemetry/api";
import pino, { type Logger } from "pino";

export type { Logger };

/**
 * JSON logs to stderr; every line logged inside a span carries its
 * trace_id/span_id. BALLAST_LOG_LEVEL sets the level (default info).
 */
export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      name: service,
      level: process.env.BALLAST_LOG_LEVEL ?? "info",
      base: { service, pid: process.pid, ...bindings },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
