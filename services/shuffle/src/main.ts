import { hostname } from "node:os";
import { resolve } from "node:path";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { checkAddress, parseFlagsOrExit, parseServiceFlags, UsageError } from "@ballast/common/flags";
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

function parseFlags(argv: string[]): Flags {
  const options = parseServiceFlags(
    "ballast-shuffle",
    "Ballast shuffle service: stores map outputs durably and serves their blocks",
    {
      address: { value: "host:port", help: `listen address (env BALLAST_SHUFFLE_ADDRESS, default ${DEFAULT_ADDRESS})` },
      "data-dir": { value: "dir", help: "where data files and the index live (env BALLAST_DATA_DIR, required)" },
      "node-id": { value: "id", help: "this node's id, for logs (env BALLAST_NODE_ID, default the host name)" },
    },
    argv.slice(2),
    `Security:\n${SECURITY_USAGE}`,
  );
  const address = options.address ?? process.env.BALLAST_SHUFFLE_ADDRESS ?? DEFAULT_ADDRESS;
  const dataDir = options["data-dir"] ?? process.env.BALLAST_DATA_DIR;
  const nodeId = options["node-id"] ?? process.env.BALLAST_NODE_ID ?? hostname();
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
