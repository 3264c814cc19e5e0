/**
 * The history service process: keeps every application's event stream and
 * serves it over gRPC (--address) and a JSON API + web UI (--http-address).
 *
 *   node services/history/dist/main.js (--data-dir DIR | --store postgresql://...) [--address HOST:PORT] [--http-address HOST:PORT]
 */
import { parseArgs } from "node:util";
import { retryWithBackoff } from "@ballast/common/backoff";
import { describeError } from "@ballast/common/errors";
import { createLogger, type Logger } from "@ballast/common/logging";
import { checkStoreUrl, redactPassword } from "@ballast/common/storeUrl";
import { initTelemetry } from "@ballast/common/telemetry";
import { guardProcess, stopOnSignals } from "@ballast/common/lifecycle";
import { startHistoryService, type HistoryServiceOptions } from "./app.js";
import { splitHostPort } from "./http/server.js";
import { openHistoryStore } from "./store/openStore.js";
import type { HistoryStore } from "./store/store.js";
import { traceUrlTemplate } from "@ballast/common/traceLink";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { UsageError } from "@ballast/common/flags";
import { resolveConf } from "@ballast/common/config";
import type { RetentionPolicy } from "./store/store.js";

const USAGE = `usage: history (--data-dir DIR | --store URL) [--address HOST:PORT] [--http-address HOST:PORT] [--trace-url TEMPLATE] [--allowed-hosts NAMES] [--retain-jobs N] [--retain-for DURATION]
  --address       gRPC address (env BALLAST_HISTORY_ADDRESS, default 127.0.0.1:18081)
  --http-address  JSON API and web UI (env BALLAST_HISTORY_HTTP_ADDRESS, default 127.0.0.1:18080)
  --data-dir      where history.sqlite is kept (env BALLAST_DATA_DIR; required without --store)
  --store         postgresql://USER[:PASS]@HOST:PORT/DB: keep the event logs there instead (env BALLAST_STORE)
  --trace-url     the UI's trace links, {traceId} replaced (env BALLAST_TRACE_URL, default Jaeger's http://localhost:16686/trace/{traceId})
  --allowed-hosts comma-separated host names the UI answers to besides IP addresses, localhost and this
                  machine's name (env BALLAST_HISTORY_ALLOWED_HOSTS); others get 403 (DNS rebinding)
  --retain-jobs   keep the newest N ended jobs per application, forget older ones with their events (env BALLAST_HISTORY_RETAINEDJOBS, default 0: all)
  --retain-for    forget ended jobs older than this, e.g. 7d as 168h (env BALLAST_HISTORY_RETENTION, default 0: never)
${SECURITY_USAGE}`;


function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        address: { type: "string" },
        "http-address": { type: "string" },
        "data-dir": { type: "string" },
        store: { type: "string" },
        "trace-url": { type: "string" },
        "allowed-hosts": { type: "string" },
        "retain-jobs": { type: "string" },
        "retain-for": { type: "string" },
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
  const storeUrl = checkStoreUrl(values.store ?? env.BALLAST_STORE);
  if (!dataDir && !storeUrl) throw new UsageError("--data-dir (or BALLAST_DATA_DIR) is required, unless --store (or BALLAST_STORE) names a database");
  for (const [flag, value] of [["--address", address], ["--http-address", httpAddress]] as const) {
    try {
      splitHostPort(value);
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  }
  const traceUrl = traceUrlTemplate(values["trace-url"], env);
  if (!traceUrl.includes("{traceId}")) throw new UsageError(`--trace-url must contain {traceId}, got "${traceUrl}"`);
  const allowedHosts = (values["allowed-hosts"] ?? env.BALLAST_HISTORY_ALLOWED_HOSTS ?? "").split(",").filter((h) => h.trim());
  return { address, httpAddress, dataDir, storeUrl, traceUrl, allowedHosts, retention: retentionOf(values["retain-jobs"], values["retain-for"], env) };
}

/** Flags over BALLAST_HISTORY_* variables, validated by the one config schema. */
function retentionOf(jobs: string | undefined, age: string | undefined, env: NodeJS.ProcessEnv): RetentionPolicy {
  const overrides: Record<string, string> = {};
  if (jobs !== undefined) overrides["ballast.history.retainedJobs"] = jobs;
  if (age !== undefined) overrides["ballast.history.retention"] = age;
  try {
    const conf = resolveConf(overrides, env);
    return { keepJobs: conf["ballast.history.retainedJobs"], keepForMs: conf["ballast.history.retention"] };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type Options = Omit<HistoryServiceOptions, "store"> & { storeUrl?: string };

async function main(): Promise<void> {
  let options: Options | "help";
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
  guardProcess(logger);
  const store = await openStoreRetrying(options, logger);
  const service = await startHistoryService({ ...options, logger, store });
  const where = options.storeUrl ? { store: redactPassword(options.storeUrl) } : { dataDir: options.dataDir };
  logger.info({ grpcAddress: service.grpcAddress, httpUrl: service.httpUrl, ...where }, `history UI at ${service.httpUrl}/`);

  stopOnSignals(logger, () => service.stop());
}

/** Opens the store, waiting (bounded backoff, logged) while the database is unreachable. */
function openStoreRetrying(options: Options, logger: Logger): Promise<HistoryStore> {
  const onIdleError = (err: Error) => logger.warn({ err: describeError(err) }, "store connection lost; it reconnects on next use");
  return retryWithBackoff(
    () => openHistoryStore(options.storeUrl, options.dataDir, onIdleError),
    { initialMs: 200, maxMs: 5_000 },
    (err, retry, retryInMs) => logger.warn({ err: describeError(err), retry, retryInMs }, "store unreachable; retrying"),
  );
}

main().catch((err) => {
  process.stderr.write(`history: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
