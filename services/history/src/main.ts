/**
 * The history service process: keeps every application's event stream and
 * serves it over gRPC (--address) and a JSON API + web UI (--http-address).
 *
 *   node services/history/dist/main.js --data-dir DIR [--address HOST:PORT] [--http-address HOST:PORT]
 */
import { parseArgs } from "node:util";
import { createLogger } from "@ballast/common/logging";
import { initTelemetry } from "@ballast/common/telemetry";
import { stopOnSignals } from "@ballast/common/lifecycle";
import { startHistoryService, type HistoryServiceOptions } from "./app.js";
import { splitHostPort } from "./http/server.js";
import { traceUrlTemplate } from "@ballast/common/traceLink";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { UsageError } from "@ballast/common/flags";

const USAGE = `usage: history --data-dir DIR [--address HOST:PORT] [--http-address HOST:PORT] [--trace-url TEMPLATE]
  --address       gRPC address (env BALLAST_HISTORY_ADDRESS, default 127.0.0.1:18081)
  --http-address  JSON API and web UI (env BALLAST_HISTORY_HTTP_ADDRESS, default 127.0.0.1:18080)
  --data-dir      where history.sqlite is kept (env BALLAST_DATA_DIR, required)
  --trace-url     the UI's trace links, {traceId} replaced (env BALLAST_TRACE_URL, default Jaeger's http://localhost:16686/trace/{traceId})
${SECURITY_USAGE}`;


function parseOptions(argv: string[], env: NodeJS.ProcessEnv): HistoryServiceOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        address: { type: "string" },
        "http-address": { type: "string" },
        "data-dir": { type: "string" },
        "trace-url": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return "help";
  const address = values.address ?? env.BALLAST_HISTORY_ADDRESS ?? "127.0.0.1:18081";
  const httpAddress = values["http-address"] ?? env.BALLAST_HISTORY_HTTP_ADDRESS ?? "127.0.0.1:18080";
  const dataDir = values["data-dir"] ?? env.BALLAST_DATA_DIR ?? "";
  if (!dataDir) throw new UsageError("--data-dir (or BALLAST_DATA_DIR) is required");
  for (const [flag, value] of [["--address", address], ["--http-address", httpAddress]] as const) {
    try {
      splitHostPort(value);
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  }
  const traceUrl = traceUrlTemplate(values["trace-url"], env);
  if (!traceUrl.includes("{traceId}")) throw new UsageError(`--trace-url must contain {traceId}, got "${traceUrl}"`);
  return { address, httpAddress, dataDir, traceUrl };
}

async function main(): Promise<void> {
  let options: HistoryServiceOptions | "help";
  try {
    options = parseOptions(serviceSecurityOrExit("history", process.argv.slice(2)), process.env);
  } catch (err) {
    process.stderr.write(`history: ${(err as Error).message} (see --help)\n`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  await initTelemetry("ballast-history");
  const logger = createLogger("history");
  const service = await startHistoryService({ ...options, logger });
  logger.info({ grpcAddress: service.grpcAddress, httpUrl: service.httpUrl, dataDir: options.dataDir }, `history UI at ${service.httpUrl}/`);

  stopOnSignals(logger, () => service.stop());
}

main().catch((err) => {
  process.stderr.write(`history: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
