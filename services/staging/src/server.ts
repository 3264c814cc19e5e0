import { startGrpcServer, type RunningServer } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { stagingServiceBinding } from "./rpc/staging-service.js";
import { resolveConf } from "@ballast/common/config";
import { LocalBlobStore } from "./store/local-blob-store.js";

const GC_EVERY_MS = 60_000;

export interface StagingServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  dataDir: string;
  logger?: Logger;
  /** Test-only per-chunk upload delay. */
  chunkDelayMs?: number;
  /** An upload silent this long is ended and its lock freed. */
  uploadIdleTimeoutMs?: number;
}

export interface StagingServer {
  address: string;
  store: LocalBlobStore;
  /** Stops serving (letting running calls finish for up to graceMs) and closes the store. */
  stop(graceMs?: number): Promise<void>;
}

/** Opens the store (recovering from any crash) and serves it over gRPC. */
export async function startStagingServer(options: StagingServerOptions): Promise<StagingServer> {
  const store = LocalBlobStore.open({ dataDir: options.dataDir, logger: options.logger });
  const collector = startGarbageCollection(store, options.logger);
  let server: RunningServer;
  try {
    const binding = stagingServiceBinding(store, { logger: options.logger, chunkDelayMs: options.chunkDelayMs, uploadIdleTimeoutMs: options.uploadIdleTimeoutMs });
    server = await startGrpcServer(options.address, [binding], options.logger);
  } catch (err) {
    clearInterval(collector);
    await store.close();
    throw err;
  }
  return {
    address: server.address,
    store,
    async stop(graceMs?: number) {
      clearInterval(collector);
      await server.stop(graceMs);
      await store.close();
    },
  };
}

/**
 * Abandoned uploads, stale job bundles and unnamed blobs go at start-up (a restart may follow a
 * long stop) and once a minute (ballast.staging.* from the environment).
 */
function startGarbageCollection(store: LocalBlobStore, logger: Logger | undefined): NodeJS.Timeout {
  const conf = resolveConf({}, process.env);
  const policy = {
    abandonedUploadMs: conf["ballast.staging.abandonedUploadTimeout"],
    unnamedBlobMs: conf["ballast.staging.unnamedBlobRetention"],
    bundleMs: conf["ballast.staging.bundleRetention"],
  };
  const collect = () => {
    try {
      const removed = store.collectGarbage(policy);
      if (removed.uploads + removed.bundles + removed.blobs > 0) logger?.info(removed, "staging removed abandoned uploads, stale job bundles and unnamed blobs");
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, "staging garbage collection failed");
    }
  };
  collect();
  return setInterval(collect, GC_EVERY_MS).unref();
}
