import { trace } from "@opentelemetry/api";
import { createRequire } from "node:module";
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

let logFile: string | undefined;

/**
 * Sends the logs of every logger this process creates from now on to a file (appended), instead of
 * stderr. The test run uses it so that in-process services do not flood the run's output; it
 * shows the file only for a failing test.
 */
export function routeLogsTo(path: string | undefined): void {
  logFile = path;
}

/**
 * Logs to stderr: human-readable (pino-pretty) on a terminal, JSON lines otherwise (a log file, a
 * pipe, a collector). BALLAST_LOG_FORMAT=json|pretty overrides the choice; every line logged inside
 * a span carries its trace_id/span_id. BALLAST_LOG_LEVEL sets the level (default info).
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
    destination(),
  );
}

function destination(): DestinationStream {
  if (logFile) return pino.destination({ dest: logFile, append: true, mkdir: true, sync: false });
  if (logFormat() === "pretty") {
    // Loaded only for a terminal: a service whose stderr is a file never pays for it.
    const pretty = createRequire(import.meta.url)("pino-pretty") as (options: object) => DestinationStream;
    return pretty({ destination: 2, colorize: Boolean(process.stderr.isTTY), translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service", messageKey: "msg" });
  }
  return pino.destination({ fd: 2, sync: false });
}

function logFormat(): "json" | "pretty" {
  const chosen = process.env.BALLAST_LOG_FORMAT;
  if (chosen === "json" || chosen === "pretty") return chosen;
  return process.stderr.isTTY ? "pretty" : "json";
}
