import { Command, CommanderError } from "commander";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { createLogger } from "../../../packages/common/src/logging.js";
import { initTelemetry } from "../../../packages/common/src/telemetry.js";
import { flushAndExit, stopOnSignals } from "../../../packages/common/src/lifecycle.js";
import { startShuffleServer } from "./server.js";

const DEFAULT_ADDRESS = "127.0.0.1:7337";

interface Flags {
  address: string;
  dataDir: string;
  nodeId: string;
}

/** A bad flag value: reported on one line, exit status 2. */
class UsageError extends Error {}

function parseFlags(argv: string[]): Flags {
  const program = new Command("ballast-shuffle")
    .description("Ballast shuffle service: stores map outputs durably and serves their blocks")
    .option("--address <host:port>", `listen address (env BALLAST_SHUFFLE_ADDRESS, default ${DEFAULT_ADDRESS})`)
    .option("--data-dir <dir>", "where data files and the index live (env BALLAST_DATA_DIR, required)")
    .option("--node-id <id>", "this node's id, for logs (env BALLAST_NODE_ID, default the host name)")
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) process.exit(0); // --help
    throw new UsageError((err as Error).message.replace(/^error: /, ""));
  }
  const options = program.opts<{ address?: string; dataDir?: string; nodeId?: string }>();
  const address = options.address ?? process.env.BALLAST_SHUFFLE_ADDRESS ?? DEFAULT_ADDRESS;
  const dataDir = options.dataDir ?? process.env.BALLAST_DATA_DIR;
  const nodeId = options.nodeId ?? process.env.BALLAST_NODE_ID ?? hostname();
  if (!dataDir) throw new UsageError("--data-dir (or BALLAST_DATA_DIR) is required");
  if (!nodeId.trim()) throw new UsageError("--node-id must not be empty");
  return { address: checkAddress(address), dataDir: resolve(dataDir), nodeId };
}

function checkAddress(address: string): string {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  const port = address.slice(colon + 1);
  if (colon <= 0 || !host || !/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new UsageError(`--address must be HOST:PORT with a port from 0 to 65535, got ${JSON.stringify(address)}`);
  }
  return address;
}


async function main(): Promise<void> {
  let flags: Flags;
  try {
    flags = parseFlags(process.argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ballast-shuffle: ${err.message}\n`);
    process.exit(2);
  }
  initTelemetry("ballast-shuffle");
  const logger = createLogger("shuffle", { nodeId: flags.nodeId });
  let server;
  try {
    server = await startShuffleServer({ ...flags, logger });
  } catch (err) {
    logger.fatal({ err, address: flags.address, dataDir: flags.dataDir }, "shuffle service failed to start");
    flushAndExit(logger, 1);
    return;
  }
  stopOnSignals(logger, () => server.stop());
}

await main();
