import type { Logger } from "./logging.js";
import { shutdownTelemetry } from "./telemetry.js";

/** Exits once the async log destination has flushed (bounded: a stuck flush cannot keep the process alive). */
export function flushAndExit(logger: Logger, code: number): void {
  logger.flush(() => process.exit(code));
  setTimeout(() => process.exit(code), 1000).unref();
}

/**
 * Graceful stop on SIGTERM or SIGINT, once: `stop` drains the service, then
 * telemetry is flushed and the process exits 0.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    await stop();
    await shutdownTelemetry();
    logger.info("stopped");
    flushAndExit(logger, 0);
  };
  process.on("SIGTERM", () => void onSignal("SIGTERM"));
  process.on("SIGINT", () => void onSignal("SIGINT"));
}

/** Exit code of a service that stopped on an unexpected exception (EX_SOFTWARE), for its supervisor. */
export const CRASH_EXIT_CODE = 70;

/**
 * Process-level handlers every service installs at start: a promise nobody
 * awaited that rejects is logged with its context and the service goes on
 * (one bad request must not take it down); an exception nothing caught leaves
 * the process in an unknown state, so it is logged and the process exits
 * cleanly (logs flushed, code 70) for its supervisor to restart.
 */
export function guardProcess(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason instanceof Error ? reason : new Error(String(reason)) }, "unhandled promise rejection; the service goes on");
  });
  process.on("uncaughtException", (err, origin) => {
    logger.fatal({ err, origin }, "uncaught exception; exiting for the supervisor");
    flushAndExit(logger, CRASH_EXIT_CODE);
  });
}
