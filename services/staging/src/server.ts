import { startGrpcServer, type RunningServer } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { stagingServiceBinding } from "./rpc/staging-service.js";
import { LocalBlobStore } from "./store/local-blob-store.js";

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
  let server: RunningServer;
  try {
    const binding = stagingServiceBinding(store, { logger: options.logger, chunkDelayMs: options.chunkDelayMs, uploadIdleTimeoutMs: options.uploadIdleTimeoutMs });
    server = await startGrpcServer(options.address, [binding], options.logger);
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    address: server.address,
    store,
    async stop(graceMs?: number) {
      await server.stop(graceMs);
      await store.close();
    },
  };
}
