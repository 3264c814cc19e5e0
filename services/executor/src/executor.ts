import { resolveConf } from "@ballast/common/config";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TaskLaunch, TaskStatusUpdate, TracedTaskLaunch } from "@ballast/common/domain/tasks";
import { describeError } from "@ballast/common/errors";
import { withSpan } from "@ballast/common/telemetry";
import { startGrpcServer, type RunningServer } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { ShuffleClient } from "@ballast/clients/shuffle";
import { HostLocalShuffle } from "./tasks/hostLocalShuffle.js";
import { sleep, type BackoffPolicy } from "@ballast/common/backoff";
import { DriverProcesses } from "./drivers.js";
import { drainForDecommission, type DrainOutcome } from "./core/drain.js";
import { nodeStateOf, requestDecommission } from "./rpc/nodes.js";
import { SchedulerSession, type RevokeAnswer } from "./rpc/session.js";
import { executorService, type ExecutorStatus } from "./rpc/statusService.js";
import { BundleCache } from "./tasks/bundles.js";
import { ExecutorPartitionCache } from "./tasks/partitionCache.js";
import { InputCache } from "./tasks/inputs.js";
import { JobScopedStaging } from "./tasks/jobStaging.js";
import type { ShufflePeer, StagingPeer } from "./tasks/peers.js";
import type { FaultHook } from "./tasks/faults.js";
import { fetchedBytesInMemory, TaskRunner } from "./tasks/runner.js";
import { executorFetchMemory } from "./tasks/fetchedBlocks.js";
import { TaskEventLog } from "./tasks/taskEvents.js";
import { memorySizing } from "./tasks/memorySizing.js";
import { WorkerPool } from "./tasks/workerPool.js";

export interface ExecutorOptions {
  /** Active and standby schedulers; the executor follows whichever holds the lease. */
  schedulerAddresses: string[];
  /** This node's shuffle service. */
  shuffleAddress: string;
  stagingAddress: string;
  nodeId: string;
  executorId: string;
  slots: number;
  /**
   * Tasks the scheduler may hand this executor beyond its slots; they wait in the worker pool's
   * queue. Registration offers slots + queuedTasks, so the next tasks are already here when a
   * short one ends (default 0).
   */
  queuedTasks?: number;
  /** The node's address, reported on registration. */
  host: string;
  /** Where ExecutorService listens (port 0 picks one). */
  address: string;
  dataDir: string;
  logger: Logger;
  /** Scheduler reconnect backoff (default 100ms..5s). */
  reconnect?: BackoffPolicy;
  /** Called when the scheduler sends ShutdownExecutor; default: stop(). The process entry exits after stopping. */
  onShutdownRequested?: (reason: string) => void;
  /** Test-only fault hook (BALLAST_TEST_FAULTS). */
  faults?: FaultHook;
  /** Test-only task start/end log (BALLAST_TEST_TASK_EVENTS_FILE). */
  taskEventsFile?: string;
  /** How often a decommissioning executor asks the scheduler about its node (default 250ms). */
  decommissionPollMs?: number;
  /** Test seams: replace the staging client or the shuffle clients. */
  staging?: StagingPeer;
  shuffleClient?: (address: string) => ShufflePeer;
}

interface RunningTask {
  launch: TracedTaskLaunch;
  abort: AbortController;
  /** Taken back by the scheduler before a worker took it: its end is not reported. */
  revoked?: boolean;
}

/**
 * One executor process: holds the scheduler session, runs launched tasks on a
 * worker pool and serves its status. It keeps no durable state: the data dir
 * only caches bundles and inputs (both content-addressed).
 */
export class Executor {
  private readonly running = new Map<string, RunningTask>();
  /** Resolves when a running task's final update has been reported. */
  private readonly settlements = new Map<string, Promise<void>>();
  private readonly shuffleClients = new Map<string, ShufflePeer>();
  /** ballast.shuffle.hostLocal: the node's own shuffle service reached through its files where they are shared. */
  private readonly hostLocalShuffle: boolean;
  private readonly staging: StagingPeer & { close?(): void };
  private readonly pool: WorkerPool;
  private readonly bundles: BundleCache;
  private readonly runner: TaskRunner;
  private readonly partitionCache: ExecutorPartitionCache;
  private readonly drivers: DriverProcesses;
  private session!: SchedulerSession;
  private server!: RunningServer;
  private readonly taskEvents?: TaskEventLog;
  /** Interrupts a decommission drain when a hard stop comes in. */
  private readonly drainAbort = new AbortController();
  private tasksCompleted = 0;
  private stopping = false;

  private constructor(private readonly options: ExecutorOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    // Spill dirs of tasks a previous process left behind when it died: no task of theirs runs any more.
    const spillRoot = join(options.dataDir, "spill");
    rmSync(spillRoot, { recursive: true, force: true });
    mkdirSync(spillRoot, { recursive: true });
    this.staging = options.staging ?? new JobScopedStaging(options.stagingAddress);
    const processConf = resolveConf({}, process.env);
    this.hostLocalShuffle = processConf["ballast.shuffle.hostLocal"];
    const sizing = memorySizing(processConf["ballast.executor.totalMemory"], options.slots, processConf["ballast.executor.cacheMemory"]);
    options.logger.info({ totalMemory: processConf["ballast.executor.totalMemory"], slots: options.slots, ...sizing }, "memory shared among the task workers");
    this.pool = new WorkerPool(options.slots, options.logger, undefined, sizing.workerHeapBytes);
    const cacheBytes = processConf["ballast.executor.cacheSize"];
    this.bundles = new BundleCache(options.dataDir, this.staging, cacheBytes);
    this.partitionCache = new ExecutorPartitionCache({
      nodeShuffle: this.shuffleClientFor(options.shuffleAddress),
      shuffleClientFor: (address) => this.shuffleClientFor(address),
      logger: options.logger,
      memoryBudgetBytes: processConf["ballast.executor.cacheMemory"],
      onEvicted: (partitions) => this.session?.sendCachedPartitionsDropped(partitions),
    });
    this.runner = new TaskRunner({
      nodeId: options.nodeId,
      bundles: this.bundles,
      inputs: new InputCache(options.dataDir, this.staging, cacheBytes),
      pool: this.pool,
      nodeShuffle: this.shuffleClientFor(options.shuffleAddress),
      shuffleClientFor: (address) => this.shuffleClientFor(address),
      staging: this.staging,
      beforeTask: options.faults?.active ? (launch, signal) => options.faults!.beforeTask(launch, signal) : undefined,
      authorizeCommit: (taskId) => this.session.authorizeCommit(taskId),
      logger: options.logger,
      spillRoot,
      taskMemoryCap: sizing.taskMemoryCap,
      fetchMemory: executorFetchMemory(options.slots, fetchedBytesInMemory(sizing.taskMemoryCap)),
      cache: this.partitionCache,
    });
    this.drivers = new DriverProcesses({
      schedulerAddresses: options.schedulerAddresses,
      stagingAddress: options.stagingAddress,
      dataDir: options.dataDir,
      logger: options.logger,
      onExit: (exit) => this.session?.sendDriverExited(exit),
    });
    if (options.taskEventsFile) this.taskEvents = new TaskEventLog(options.taskEventsFile, { nodeId: options.nodeId, executorId: options.executorId });
    if (options.faults?.active) options.logger.warn({ faults: options.faults.spec }, "test fault hook active");
  }

  static async start(options: ExecutorOptions): Promise<Executor> {
    const executor = new Executor(options);
    executor.server = await startGrpcServer(options.address, [executorService(() => executor.status())], options.logger);
    executor.pool.warm();
    executor.session = new SchedulerSession({
      schedulerAddresses: options.schedulerAddresses,
      registration: {
        executorId: options.executorId,
        nodeId: options.nodeId,
        host: options.host,
        slots: options.slots + (options.queuedTasks ?? 0),
        queuedSlots: options.queuedTasks ?? 0,
        shuffleAddress: options.shuffleAddress,
        executorAddress: executor.server.address,
      },
      handlers: {
        onLaunch: (launch) => executor.launch(launch),
        onInvalidLaunch: (taskId, message) => executor.report({ taskId, state: "failed", failure: { kind: "executorError", message, stack: "", errorKind: "invalid_argument" } }),
        onKill: (taskId, reason) => executor.kill(taskId, reason),
        onRevoke: (taskIds, reason) => executor.revoke(taskIds, reason),
        onShutdown: (reason) => executor.onShutdown(reason),
        runningTaskIds: () => [...executor.running.keys()],
        cachedPartitions: () => executor.partitionCache.heldInMemory(),
        cachedOnDisk: () => executor.partitionCache.heldOnDisk(),
        onFreeCachedDataset: (applicationId, cacheKey) => executor.freeCachedDataset(applicationId, cacheKey),
        onLaunchDriver: (applicationId, attempt, token) => executor.drivers.launch(applicationId, attempt, token),
        onStopDriver: (applicationId, reason) => executor.drivers.stop(applicationId, reason),
        runningDrivers: () => executor.drivers.applicationIds(),
      },
      logger: options.logger,
      reconnect: options.reconnect,
    });
    executor.session.start();
    return executor;
  }

  /** The ExecutorService address actually bound. */
  get address(): string {
    return this.server.address;
  }

  status(): ExecutorStatus {
    return {
      executorId: this.options.executorId,
      nodeId: this.options.nodeId,
      slots: this.options.slots,
      runningTaskIds: [...this.running.keys()],
      connected: this.session?.connected ?? false,
      schedulerEpoch: this.session?.epoch ?? 0,
      bundlesCached: this.bundles.cachedCount,
      tasksCompleted: this.tasksCompleted,
      cachedPartitionsInMemory: this.partitionCache.memoryHeld.partitions,
      cachedBytesInMemory: this.partitionCache.memoryHeld.bytes,
    };
  }

  private freeCachedDataset(applicationId: string, cacheKey: string): void {
    const freed = this.partitionCache.freeDataset(applicationId, cacheKey);
    this.options.logger.info({ applicationId, cacheKey, freed }, "unpersisted: freed cached partitions from memory");
  }

  /**
   * Graceful exit for SIGTERM: decommissions this node on the scheduler and
   * keeps running the tasks it holds until the scheduler reports the node
   * decommissioned (or lost), the tasks finished while the scheduler is
   * unreachable, or waitMs passed. Does not stop the executor; the caller does.
   */
  async decommission(waitMs: number): Promise<DrainOutcome | "interrupted"> {
    const { logger, nodeId } = this.options;
    return withSpan("executor.decommission", { "node.id": nodeId, "decommission.wait_ms": waitMs }, async (span) => {
      const note = (event: string, details: Record<string, unknown> = {}) => {
        logger.info({ ...details, runningTasks: this.running.size }, event);
        span.addEvent(event, { running_tasks: this.running.size });
      };
      try {
        const outcome = await drainForDecommission(
          {
            requestDecommission: () => requestDecommission(this.session, nodeId, waitMs),
            nodeState: () => nodeStateOf(this.session, nodeId),
            heldTasks: () => this.running.size,
            now: Date.now,
            sleep: (ms) => sleep(ms, this.drainAbort.signal),
            note,
          },
          { waitMs, pollMs: this.options.decommissionPollMs ?? 250 },
        );
        note("decommission drain finished", { outcome });
        span.setAttribute("decommission.outcome", outcome);
        return outcome;
      } catch (err) {
        if (!this.drainAbort.signal.aborted) throw err;
        note("decommission drain interrupted");
        return "interrupted";
      }
    });
  }

  /** Stops taking tasks, kills running ones (reporting them killed), closes the session and the server. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.drainAbort.abort(new Error("executor is stopping"));
    this.drivers.stopAll();
    const settled = [...this.running.values()].map((task) => this.settledOf(task));
    for (const taskId of [...this.running.keys()]) this.kill(taskId, "executor is stopping");
    await this.pool.close();
    await Promise.race([Promise.all(settled), new Promise((resolve) => setTimeout(resolve, 2000))]);
    await this.session.close();
    await this.server.stop(1000);
    for (const client of this.shuffleClients.values()) client.close();
    this.staging.close?.();
  }

  private onShutdown(reason: string): void {
    this.options.logger.warn({ reason }, "scheduler asked this executor to shut down");
    if (this.options.onShutdownRequested) this.options.onShutdownRequested(reason);
    else void this.stop();
  }

  private settledOf(task: RunningTask): Promise<void> {
    return this.settlements.get(task.launch.taskId) ?? Promise.resolve();
  }

  private launch(launch: TracedTaskLaunch): void {
    const { logger } = this.options;
    if (this.stopping) {
      this.report({ taskId: launch.taskId, state: "failed", failure: { kind: "executorError", message: "executor is stopping", stack: "", errorKind: "executor_error" } });
      return;
    }
    if (this.running.has(launch.taskId)) {
      logger.warn({ taskId: launch.taskId }, "ignoring a duplicate launch of a running task");
      return;
    }
    const task: RunningTask = { launch, abort: new AbortController() };
    this.running.set(launch.taskId, task);
    // Per-task lines are debug: at thousands of tasks a second, info lines were a visible share of the main thread.
    logger.debug({ taskId: launch.taskId, jobId: launch.jobId, stageId: launch.stageId, partition: launch.partition }, "task launched");
    // No "running" update: the scheduler drops them unread (sessionInput), so one per task was a
    // message it decoded for nothing; heartbeats and registration already name the tasks held here.
    this.recordTaskEvent("start", launch, "running");
    const settled = this.runner
      .run(launch, task.abort.signal)
      .catch((err): TaskStatusUpdate => ({ taskId: launch.taskId, state: "failed", failure: { kind: "executorError", message: describeError(err), stack: "", errorKind: "executor_error" } }))
      .then((update) => {
        this.running.delete(launch.taskId);
        this.settlements.delete(launch.taskId);
        if (task.revoked) return this.recordTaskEvent("end", launch, "killed");
        this.tasksCompleted++;
        this.recordTaskEvent("end", launch, update.state, update);
        this.report(update);
      });
    this.settlements.set(launch.taskId, settled);
  }

  private kill(taskId: string, reason: string): void {
    const task = this.running.get(taskId);
    if (!task) {
      this.options.logger.info({ taskId, reason }, "kill for a task that is not running");
      return;
    }
    this.options.logger.info({ taskId, reason }, "killing task");
    task.abort.abort(new Error(reason));
    this.pool.kill(taskId, reason);
  }

  /**
   * Take-back: a task still waiting for a worker is dropped at once (no longer held, never
   * reported: the scheduler requeues it). Any other answers started: it runs on (or, finished or
   * unknown here, its final update went out before this answer).
   */
  private revoke(taskIds: string[], reason: string): RevokeAnswer {
    const answer: RevokeAnswer = { revoked: [], started: [] };
    for (const taskId of taskIds) {
      const task = this.running.get(taskId);
      if (task && this.pool.withdraw(taskId, reason)) {
        task.revoked = true;
        this.running.delete(taskId);
        answer.revoked.push(taskId);
      } else {
        answer.started.push(taskId);
      }
    }
    this.options.logger.debug({ ...answer, reason }, "revoke answered");
    return answer;
  }

  private recordTaskEvent(event: "start" | "end", launch: TaskLaunch, state: TaskStatusUpdate["state"], update?: TaskStatusUpdate): void {
    try {
      this.taskEvents?.record(event, launch, state, update);
    } catch (err) {
      this.options.logger.warn({ err: describeError(err), file: this.options.taskEventsFile }, "could not append to the task events file");
    }
  }

  private report(update: TaskStatusUpdate): void {
    this.session.sendUpdate(update);
  }

  private shuffleClientFor(address: string): ShufflePeer {
    let client = this.shuffleClients.get(address);
    if (!client) {
      client = this.options.shuffleClient?.(address) ?? this.newShuffleClient(address);
      this.shuffleClients.set(address, client);
    }
    return client;
  }

  /** The node's own service through its files where they are shared (ballast.shuffle.hostLocal), others over gRPC. */
  private newShuffleClient(address: string): ShufflePeer {
    const client = new ShuffleClient(address);
    const hostLocal = address === this.options.shuffleAddress && this.hostLocalShuffle;
    return hostLocal ? new HostLocalShuffle(client, this.options.logger) : client;
  }
}
