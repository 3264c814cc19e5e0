import { startGrpcServer } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { History } from "./history.js";
import { startHttpServer } from "./http/server.js";
import { wireEventCodec } from "./rpc/eventCodec.js";
import { historyServiceBinding } from "./rpc/service.js";
import { SqliteHistoryStore } from "./store/sqlite-store.js";
import type { HistoryStore, RetentionPolicy } from "./store/store.js";

/** How often the retention policy is applied. */
const PRUNE_EVERY_MS = 60_000;

export interface HistoryServiceOptions {
  /** gRPC host:port (port 0 picks one). */
  address: string;
  /** HTTP (JSON API and UI) host:port (port 0 picks one). */
  httpAddress: string;
  /** Where history.sqlite lives; ignored when `store` is given. */
  dataDir: string;
  logger?: Logger;
  /** Another backend instead of SQLite in dataDir. */
  store?: HistoryStore;
  /** Template of the UI's trace links ({traceId} is replaced); default Jaeger's. */
  traceUrl?: string;
  /** Host names the HTTP server answers to besides IP literals, localhost and this machine's name. */
  allowedHosts?: string[];
  /** Ended jobs to forget (with their events and projections); default: keep everything. */
  retention?: RetentionPolicy;
}

export interface RunningHistoryService {
  /** host:port actually bound. */
  grpcAddress: string;
  /** http://host:port actually bound. */
  httpUrl: string;
  /** Graceful stop: both servers drain for up to graceMs, then the store closes. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the history service (store, gRPC, HTTP) in this process; used by main.ts and tests. */
export async function startHistoryService(options: HistoryServiceOptions): Promise<RunningHistoryService> {
  const history = new History(options.store ?? SqliteHistoryStore.inDirectory(options.dataDir, wireEventCodec));
  const started: Array<{ stop(graceMs?: number): Promise<void> }> = [];
  try {
    const grpc = await startGrpcServer(options.address, [historyServiceBinding(history, options.logger)], options.logger);
    started.push(grpc);
    const http = await startHttpServer(options.httpAddress, history, options.logger, options.traceUrl, options.allowedHosts);
    started.push(http);
    const pruner = startPruning(history.store, options.retention, options.logger);
    let stopping: Promise<void> | undefined;
    const stop = (graceMs = 5000) =>
      (stopping ??= (clearInterval(pruner), Promise.all(started.map((server) => server.stop(graceMs))).then(() => history.close())));
    return { grpcAddress: grpc.address, httpUrl: http.url, stop };
  } catch (err) {
    await Promise.all(started.map((server) => server.stop(0)));
    await history.close();
    throw err;
  }
}

/** Applies the retention policy now and every PRUNE_EVERY_MS; a failed pass is logged and retried on the next. */
function startPruning(store: HistoryStore, policy: RetentionPolicy | undefined, logger: Logger | undefined): NodeJS.Timeout | undefined {
  if (!policy || (policy.keepJobs === 0 && policy.keepForMs === 0)) return undefined;
  const prune = () =>
    store.prune(policy, Date.now()).then(
      (removed) => removed > 0 && logger?.info({ removed, ...policy }, "history retention: forgot ended jobs"),
      (err) => logger?.warn({ err: (err as Error).message }, "history retention pass failed"),
    );
  void prune();
  return setInterval(prune, PRUNE_EVERY_MS).unref();
}
