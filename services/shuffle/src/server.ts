import { startGrpcServer, type RunningServer } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { shuffleServiceBinding } from "./rpc/shuffleService.js";
import { FileMapOutputStore } from "./store/fileStore.js";

export interface ShuffleServerOptions {
  /** HOST:PORT; port 0 picks a free one. */
  address: string;
  dataDir: string;
  nodeId: string;
  logger: Logger;
}

export interface ShuffleServer {
  /** The address actually bound (with the real port). */
  address: string;
  store: FileMapOutputStore;
  /** Stops serving (running calls get graceMs to finish), then closes the store. */
  stop(graceMs?: number): Promise<void>;
}

/** Opens the store in dataDir (cleaning up after a crash) and serves it over gRPC. */
export async function startShuffleServer(options: ShuffleServerOptions): Promise<ShuffleServer> {
  const { logger } = options;
  const store = FileMapOutputStore.open(options.dataDir);
  logger.info({ dataDir: options.dataDir, ...store.recovery }, "shuffle store opened");
  let server: RunningServer;
  try {
    server = await startGrpcServer(options.address, [shuffleServiceBinding(store, logger)], logger);
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    address: server.address,
    store,
    async stop(graceMs) {
      await server.stop(graceMs);
      await store.close();
    },
  };
}
