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
