import { parseArgs } from "node:util";
import { createLogger } from "@ballast/common/logging";
import { initTelemetry } from "@ballast/common/telemetry";
import { guardProcess, stopOnSignals } from "@ballast/common/lifecycle";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { DEFAULT_UPLOAD_IDLE_TIMEOUT_MS } from "./rpc/staging-service.js";
import { startStagingServer } from "./server.js";

const USAGE = "usage: staging --data-dir DIR [--address HOST:PORT] [--secret-file FILE] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]";

interface Flags {
  address: string;
  dataDir: string;
  chunkDelayMs: number;
  uploadIdleTimeoutMs: number;
}

/** Flags win over environment variables; anything wrong is a one-line error and exit 2. */
function parseFlags(argv: string[], env: NodeJS.ProcessEnv): Flags {
  const { values } = parseArgs({
    args: argv,
    options: { address: { type: "string" }, "data-dir": { type: "string" }, help: { type: "boolean" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n${SECURITY_USAGE}\n`);
    process.exit(0);
  }
  const address = values.address ?? env.BALLAST_STAGING_ADDRESS ?? "127.0.0.1:10000";
  if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
    throw new Error(`--address must be HOST:PORT, got ${JSON.stringify(address)}`);
  }
  const dataDir = values["data-dir"] ?? env.BALLAST_DATA_DIR;
  if (!dataDir) throw new Error("--data-dir (or BALLAST_DATA_DIR) is required");
  const chunkDelayMs = Number(env.BALLAST_STAGING_TEST_DELAY_MS ?? 0);
  if (!Number.isFinite(chunkDelayMs) || chunkDelayMs < 0) throw new Error("BALLAST_STAGING_TEST_DELAY_MS must be a non-negative number");
  const uploadIdleTimeoutMs = Number(env.BALLAST_STAGING_UPLOAD_IDLE_TIMEOUT_MS ?? DEFAULT_UPLOAD_IDLE_TIMEOUT_MS);
  if (!Number.isSafeInteger(uploadIdleTimeoutMs) || uploadIdleTimeoutMs < 1) throw new Error("BALLAST_STAGING_UPLOAD_IDLE_TIMEOUT_MS must be a positive integer");
  return { address, dataDir, chunkDelayMs, uploadIdleTimeoutMs };
}

async function main(): Promise<void> {
  let flags: Flags;
  try {
    flags = parseFlags(serviceSecurityOrExit("staging", process.argv.slice(2)), process.env);
  } catch (err) {
    process.stderr.write(`staging: ${(err as Error).message} (${USAGE})\n`);
    process.exit(2);
  }
  await initTelemetry("ballast-staging");
  const logger = createLogger("staging");
  guardProcess(logger);
  const server = await startStagingServer({ ...flags, logger });
  if (flags.chunkDelayMs) logger.warn({ chunkDelayMs: flags.chunkDelayMs }, "test-only upload delay is on");
  stopOnSignals(logger, () => server.stop());
}

main().catch((err) => {
  process.stderr.write(`staging: failed to start: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
