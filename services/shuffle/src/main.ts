import { Command } from "commander";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { checkAddress, parseCommand, parseFlagsOrExit, UsageError } from "@ballast/common/flags";
import { createLogger } from "@ballast/common/logging";
import { initTelemetry } from "@ballast/common/telemetry";
import { flushAndExit, guardProcess, stopOnSignals } from "@ballast/common/lifecycle";
import { startShuffleServer } from "./server.js";

const DEFAULT_ADDRESS = "127.0.0.1:7337";

interface Flags {
  address: string;
  dataDir: string;
  nodeId: string;
}

/** A bad flag value: reported on one line, exit status 2. */

function parseFlags(argv: string[]): Flags {
  const program = new Command("ballast-shuffle")
    .description("Ballast shuffle service: stores map outputs durably and serves their blocks")
    .option("--address <host:port>", `listen address (env BALLAST_SHUFFLE_ADDRESS, default ${DEFAULT_ADDRESS})`)
    .option("--data-dir <dir>", "where data files and the index live (env BALLAST_DATA_DIR, required)")
    .option("--node-id <id>", "this node's id, for logs (env BALLAST_NODE_ID, default the host name)");
  program.addHelpText("after", `\nSecurity:\n${SECURITY_USAGE}`);
  parseCommand(program, argv);
  const options = program.opts<{ address?: string; dataDir?: string; nodeId?: string }>();
  const address = options.address ?? process.env.BALLAST_SHUFFLE_ADDRESS ?? DEFAULT_ADDRESS;
  const dataDir = options.dataDir ?? process.env.BALLAST_DATA_DIR;
  const nodeId = options.nodeId ?? process.env.BALLAST_NODE_ID ?? hostname();
  if (!dataDir) throw new UsageError("--data-dir (or BALLAST_DATA_DIR) is required");
  if (!nodeId.trim()) throw new UsageError("--node-id must not be empty");
  return { address: checkAddress("--address", address), dataDir: resolve(dataDir), nodeId };
}



async function main(): Promise<void> {
  const flags = parseFlagsOrExit("ballast-shuffle", () => parseFlags(serviceSecurityOrExit("ballast-shuffle", process.argv)));
  await initTelemetry("ballast-shuffle");
  const logger = createLogger("shuffle", { nodeId: flags.nodeId });
  guardProcess(logger);
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
