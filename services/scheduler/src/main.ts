import { confFromEnv, parseConfPairs, resolveConf } from "@ballast/common/config";
import { describeError } from "@ballast/common/errors";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { startGrpcServer } from "@ballast/common/grpc";
import { guardProcess } from "@ballast/common/lifecycle";
import { createLogger, type Logger } from "@ballast/common/logging";
import { initTelemetry, shutdownTelemetry } from "@ballast/common/telemetry";
import { confProblem } from "./core/index.js";
import { Leadership } from "./leadership.js";
import { HistoryOutbox } from "./rpc/historyOutbox.js";
import { ShufflePeers } from "./rpc/peers.js";
import { schedulerService } from "./rpc/service.js";
import { SchedulerShell } from "./shell.js";
import { JobOutputs } from "./outputCommit.js";
import { StagingClient } from "@ballast/clients/staging";
import { retryWithBackoff } from "@ballast/common/backoff";
import { parseServiceFlags, UsageError } from "@ballast/common/flags";
import { openSchedulerStore } from "./store/openStore.js";
import type { SchedulerStore } from "./store/schedulerStore.js";

const TICK_MS = 100;

function parseFlags(argv: string[]) {
  const values = parseServiceFlags(
    "ballast-scheduler",
    "Ballast scheduler: plans jobs and schedules their tasks; one leads, standbys wait for its lease",
    {
      address: { value: "host:port", help: "gRPC address (env BALLAST_SCHEDULER_ADDRESS, default 127.0.0.1:7077)" },
      "data-dir": { value: "dir", help: "this scheduler's directory; with the SQLite store it holds the event log, snapshots and lease (shared by an active scheduler and its standbys) (env BALLAST_DATA_DIR, required)" },
      store: { value: "url", help: "postgresql://USER[:PASS]@HOST:PORT/DB: keep the lease, event log, snapshots and job records there (env BALLAST_STORE; default: SQLite in --data-dir)" },
      history: { value: "host:port", help: "history service to ship events to (env BALLAST_HISTORY_ADDRESS)" },
      staging: { value: "host:port", help: "staging service where staging:// job outputs are committed (env BALLAST_STAGING_ADDRESS)" },
      conf: { value: "key=value", help: "ballast.* setting for the scheduler and default for every job (over BALLAST_* variables)", multiple: true },
    },
    argv.slice(2),
    `Security:\n${SECURITY_USAGE}`,
  );
  const opts = {
    address: values.address ?? process.env.BALLAST_SCHEDULER_ADDRESS ?? "127.0.0.1:7077",
    dataDir: values["data-dir"] ?? process.env.BALLAST_DATA_DIR,
    store: values.store ?? process.env.BALLAST_STORE,
    history: values.history ?? process.env.BALLAST_HISTORY_ADDRESS,
    staging: values.staging ?? process.env.BALLAST_STAGING_ADDRESS,
    conf: values.conf ?? [],
  };
  if (!opts.dataDir) throw new Error("--data-dir is required");
  // Every job's defaults: BALLAST_* variables, then --conf flags. They are resolved here, in the
  // shell, because the core is pure and resolves job settings without the environment.
  const baseConf = { ...confFromEnv(), ...parseConfPairs(opts.conf) };
  const problem = confProblem(baseConf);
  if (problem) throw new Error(problem);
  return { ...opts, dataDir: opts.dataDir, baseConf };
}

/** One scheduler process: serves at once, leads once it holds the lease, steps down (exits) when it loses it. */
async function main(): Promise<void> {
  const flags = parseFlags(serviceSecurityOrExit("ballast-scheduler", process.argv));
  await initTelemetry("ballast-scheduler");
  const logger = createLogger("scheduler");
  guardProcess(logger);
  const conf = resolveConf(flags.baseConf);
  const store = await openStoreRetrying(flags.store, flags.dataDir, logger);
  let shell: SchedulerShell | undefined;
  let outbox: HistoryOutbox | undefined;
  let staging: StagingClient | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const aborted = new AbortController();

  const stop = async (code: number) => {
    aborted.abort();
    clearInterval(ticker);
    shell?.close();
    await leadership.release();
    await server.stop(1000);
    outbox?.close();
    staging?.close();
    await store.close().catch(() => undefined);
    await shutdownTelemetry();
    process.exit(code);
  };
  const leadership = new Leadership(
    store.lease,
    flags.address,
    conf["ballast.scheduler.leaseTimeout"],
    logger,
    () => {
      // A deposed leader must not act on anything; a supervisor restarts it as a standby.
      shell?.stop();
      void stop(0);
    },
    () => shell?.actOnDurable(),
  );
  const server = await startGrpcServer(
    flags.address,
    [
      schedulerService({
        shell: () => (shell && leadership.isLeader() ? shell : undefined),
        leader: () => ({ address: leadership.isLeader() ? flags.address : leadership.leaderAddress(), epoch: leadership.epoch, isLeader: leadership.isLeader() }),
        epoch: () => leadership.epoch,
        logger,
        heartbeatIntervalMs: conf["ballast.executor.heartbeatInterval"],
        baseConf: flags.baseConf,
        newJobId: async () => `job-${String(await store.nextJobNumber()).padStart(4, "0")}`,
      }),
    ],
    logger,
  );
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));

  const { downtimeMs } = await leadership.acquire(aborted.signal);
  outbox = flags.history ? new HistoryOutbox(store, flags.history, logger) : undefined;
  // Cluster credentials (this process's): the job commit names outputs in their owners' spaces.
  staging = flags.staging ? new StagingClient(flags.staging) : undefined;
  const peers = new ShufflePeers((input) => shell?.dispatchInternal(input), logger, leadership.epoch, conf["ballast.decommission.migrationParallelism"]);
  shell = new SchedulerShell(
    store,
    logger,
    {
      eventsAppended: () => outbox?.kick(),
      removeShuffles: (ids, addresses) => peers.removeShuffles(ids, addresses),
      probeShuffleService: (nodeId, address) => peers.probe(nodeId, address),
      migrateShuffle: (nodeId, address, targets) => peers.migrate(nodeId, address, targets),
      leaseLost: (reason) => leadership.lose(reason),
      mayAct: () => leadership.isLeader(),
      outputs: new JobOutputs(staging, store.applicationId),
    },
    leadership.epoch,
    flags.baseConf,
  );
  const recovered = await shell.recover();
  if (recovered.inputs > 0) takeOver(shell, downtimeMs, recovered.jobs, flags.address, leadership.epoch, logger);
  ticker = setInterval(() => shell?.dispatchInternal({ type: "tick" }), TICK_MS);
  outbox?.kick();
  logger.info({ applicationId: store.applicationId, epoch: leadership.epoch }, "scheduler leading");
}

/** Opens the store, waiting (bounded backoff, logged) while the database is unreachable. */
function openStoreRetrying(url: string | undefined, dataDir: string, logger: Logger): Promise<SchedulerStore> {
  const onIdleError = (err: Error) => logger.warn({ err: describeError(err) }, "store connection lost; it reconnects on next use");
  return retryWithBackoff(
    () => openSchedulerStore(url, dataDir, onIdleError),
    { initialMs: 200, maxMs: 5_000 },
    (err, retry, retryInMs) => logger.warn({ err: describeError(err), retry, retryInMs }, "store unreachable; retrying"),
    (err) => err instanceof UsageError,
  );
}

/**
 * After a crash or a standby takeover: the core gives executors time to come
 * back and records the failover (history event, spans). The downtime is
 * measured by the store's clock (since the old leader's last renewal).
 */
function takeOver(shell: SchedulerShell, downtimeMs: number, jobs: number, address: string, epoch: number, logger: Logger): void {
  shell.dispatch({ type: "recoveryStarted", epoch, downtimeMs, leaderAddress: address });
  logger.info({ epoch, downtimeMs, jobs }, "took over after a scheduler failover");
}

main().catch((err) => {
  process.stderr.write(`ballast-scheduler: ${describeError(err)}\n`);
  process.exit(2);
});
