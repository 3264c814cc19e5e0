import { Command } from "commander";
import { resolveConf, parseConfPairs } from "../../../packages/common/src/config.js";
import { describeError } from "../../../packages/common/src/errors.js";
import { startGrpcServer } from "../../../packages/common/src/grpc.js";
import { createLogger } from "../../../packages/common/src/logging.js";
import { initTelemetry, shutdownTelemetry } from "../../../packages/common/src/telemetry.js";
import { ShuffleClient } from "../../shuffle/src/client.js";
import { HistoryOutbox } from "./rpc/historyOutbox.js";
import { schedulerService } from "./rpc/service.js";
import { SchedulerShell } from "./shell.js";
import { SqliteSchedulerStore } from "./store/schedulerStore.js";

const TICK_MS = 100;

function parseFlags() {
  const program = new Command("ballast-scheduler")
    .option("--address <host:port>", "gRPC address", process.env.BALLAST_SCHEDULER_ADDRESS ?? "127.0.0.1:7077")
    .option("--data-dir <dir>", "event log and snapshots", process.env.BALLAST_DATA_DIR)
    .option("--history <host:port>", "history service to ship events to", process.env.BALLAST_HISTORY_ADDRESS)
    .option("--conf <key=value>", "default ballast.* setting for every job", (v: string, all: string[]) => [...all, v], [] as string[])
    .exitOverride()
    .parse();
  const opts = program.opts<{ address: string; dataDir?: string; history?: string; conf: string[] }>();
  if (!opts.dataDir) throw new Error("--data-dir is required");
  return { ...opts, dataDir: opts.dataDir, baseConf: parseConfPairs(opts.conf) };
}

async function main(): Promise<void> {
  const flags = parseFlags();
  initTelemetry("ballast-scheduler");
  const logger = createLogger("scheduler");
  const store = new SqliteSchedulerStore(flags.dataDir);
  const outbox = flags.history ? new HistoryOutbox(store, flags.history, logger) : undefined;
  const shell = new SchedulerShell(
    store,
    logger,
    {
      eventsAppended: () => outbox?.kick(),
      removeShuffles: (shuffleIds, addresses) => removeShuffles(shuffleIds, addresses, logger),
    },
    flags.baseConf,
  );
  const conf = resolveConf(flags.baseConf);
  const server = await startGrpcServer(
    flags.address,
    [schedulerService({ shell, logger, epoch: store.epoch, heartbeatIntervalMs: conf["ballast.executor.heartbeatInterval"], newJobId: () => `job-${String(store.nextJobNumber()).padStart(4, "0")}` })],
    logger,
  );
  const ticker = setInterval(() => shell.dispatch({ type: "tick" }), TICK_MS);
  outbox?.kick();
  logger.info({ applicationId: store.applicationId, epoch: store.epoch }, "scheduler ready");

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    await server.stop(2000);
    shell.close();
    outbox?.close();
    store.close();
    await shutdownTelemetry();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function removeShuffles(shuffleIds: string[], addresses: string[], logger: ReturnType<typeof createLogger>): void {
  for (const address of addresses) {
    const client = new ShuffleClient(address);
    Promise.all(shuffleIds.map((id) => client.removeShuffle(id)))
      .catch((err) => logger.warn({ address, err: describeError(err) }, "could not remove shuffle data"))
      .finally(() => client.close());
  }
}

main().catch((err) => {
  process.stderr.write(`ballast-scheduler: ${describeError(err)}\n`);
  process.exit(2);
});
