import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { resolveConf, type Conf } from "@ballast/common/config";
import { MAX_MESSAGE_BYTES } from "@ballast/common/grpc";
import { describeError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { contextFromTraceparent, withSpan } from "@ballast/common/telemetry";
import { cacheShuffleIdOf, emptyMetrics, type ShuffleReadSpec, type TaskLaunch, type TaskMetrics, type TaskStatusUpdate, type TracedTaskLaunch } from "@ballast/common/domain/tasks";
import { missingLocations } from "../core/fetchPlan.js";
import { inputUrisOfPipeline } from "../core/pipeline.js";
import { failure, TaskFailure } from "../core/task.js";
import type { BundleCache } from "./bundles.js";
import { blockKeyOf, type ExecutorPartitionCache } from "./partitionCache.js";
import { commitTextPartition } from "./commit.js";
import type { InputCache } from "./inputs.js";
import { asJob } from "./jobStaging.js";
import type { ShufflePeer, StagingPeer } from "./peers.js";
import { prepareBlocksTransfer, type PartitionOutput, type PartitionTaskSpec, type WorkerJobContext, type WorkerTaskResponse } from "./protocol.js";
import { shuffleReadsOf } from "ballast/planning";
import { FetchedBlockStore, type FetchMemory } from "./fetchedBlocks.js";
import { fetchShuffleBlocks, type FetchedBlocks } from "./shuffleFetch.js";
import { TaskKilledError, WorkerCrashedError, type WorkerPool } from "./workerPool.js";

export interface RunnerDeps {
  nodeId: string;
  bundles: BundleCache;
  inputs: InputCache;
  pool: WorkerPool;
  /** This node's shuffle service, where map outputs are written. */
  nodeShuffle: Pick<ShufflePeer, "address" | "writeMapOutput">;
  /** A client for any shuffle service, to fetch blocks from. */
  shuffleClientFor(address: string): Pick<ShufflePeer, "streamBlocks">;
  staging: Pick<StagingPeer, "uploadBytes" | "link">;
  authorizeCommit(taskId: string): Promise<boolean>;
  /** Test-only fault hook: may delay (abortably) or fail a task before it runs. */
  beforeTask?(launch: TaskLaunch, signal: AbortSignal): Promise<void>;
  logger: Logger;
  /** Where tasks get their spill dirs (one each, removed when the task ends). */
  spillRoot: string;
  /** The most a task's ballast.executor.memory may be here (half its worker's heap: memorySizing). */
  taskMemoryCap: number;
  /** The executor-wide bound on fetched blocks held in memory (queued tasks fetch too). */
  fetchMemory?: FetchMemory;
  /** Cached partitions of persisted datasets: gathered before a task, kept after it. */
  cache: Pick<ExecutorPartitionCache, "blocksFor" | "keep">;
}

/** What a task has before it fetches: its shuffle reads, spill dir, conf, bundle, local inputs and cached blocks. */
interface PreparedTask {
  reads: TaskLaunch["shuffleReads"];
  reducePartitions: ReadonlyMap<number, number>;
  spillDir: string;
  conf: Conf;
  bundlePath: string;
  localPaths: Record<string, string>;
  /** Application jobs: the cached blocks gathered for it, by blockKeyOf. */
  cached: Record<string, Uint8Array> | undefined;
}

/**
 * Fetched blocks a reduce task keeps in memory before the rest go to its spill dir: an eighth of
 * its memory budget (24 MiB at the default cap of 192m), so small partitions never touch the disk
 * twice. They live outside the worker's heap for the whole task, and a queued task holds its own
 * in the main thread meanwhile: at a quarter, a 1 GB groupByKey peaked some 50 MiB higher.
 */
export function fetchedBytesInMemory(memoryLimit: number): number {
  return Math.floor(memoryLimit / 8);
}

/** A task's logger (its lines carry its id), made on first use: most tasks log nothing, and a child per task was 1.5% of the main thread. */
type TaskLogger = () => Logger;

function taskLoggerOf(parent: Logger, taskId: string): TaskLogger {
  let child: Logger | undefined;
  return () => (child ??= parent.child({ taskId }));
}

/** When a task attempt started, and how long it waited in the worker pool's queue. */
interface TaskClock {
  startedAt: number;
  queuedAt: number;
  queuedMs: number;
}

const NOTHING_FETCHED: FetchedBlocks = Object.freeze({ blocks: Object.freeze({}), bytes: 0, bytesOnDisk: 0 });

/** Results travel in one TaskUpdate message: keep room for the rest of it under the gRPC limit. */
const RESULT_WIRE_LIMIT = MAX_MESSAGE_BYTES - 64 * 1024;

/**
 * Runs one task attempt end to end: bundle, inputs, shuffle reads, compute in
 * a worker, then output (map output, result, or committed part file). Never
 * throws: every outcome, including kills and crashes, becomes the final
 * TaskStatusUpdate to report.
 */
export class TaskRunner {
  constructor(private readonly deps: RunnerDeps) {}

  run(launch: TracedTaskLaunch, signal: AbortSignal): Promise<TaskStatusUpdate> {
    const attributes = { "task.id": launch.taskId, "job.id": launch.jobId, "stage.id": launch.stageId, "task.partition": launch.partition, "task.attempt": launch.attempt };
    const parent = contextFromTraceparent(launch.traceparent);
    return asJob(launch.jobToken, () => withSpan("task.run", attributes, (span) => this.runInSpan(launch, signal, span), parent));
  }

  private async runInSpan(launch: TracedTaskLaunch, signal: AbortSignal, span: Span): Promise<TaskStatusUpdate> {
    const metrics = emptyMetrics();
    // A queued task's wait for a slot is not its duration (stage medians, MB/s): counted from when it reaches a worker.
    const clock: TaskClock = { startedAt: Date.now(), queuedAt: 0, queuedMs: 0 };
    const logger = taskLoggerOf(this.deps.logger, launch.taskId);
    try {
      const update = await this.execute(launch, signal, metrics, logger, clock);
      const durationMs = Date.now() - clock.startedAt - clock.queuedMs;
      if (this.deps.logger.isLevelEnabled("debug")) logger().debug({ durationMs, queuedMs: clock.queuedMs }, "task succeeded"); // failures stay at warn
      return { ...update, metrics: { ...metrics, durationMs } };
    } catch (err) {
      const update = this.failedUpdate(launch, err, signal);
      span.setStatus({ code: SpanStatusCode.ERROR, message: update.failure?.message });
      span.setAttribute("task.outcome", update.failure?.kind ?? update.state);
      logger().warn({ state: update.state, kind: update.failure?.kind, err: update.failure?.message }, "task did not succeed");
      return { ...update, metrics: { ...metrics, durationMs: Date.now() - clock.startedAt - clock.queuedMs } };
    }
  }

  private async execute(launch: TaskLaunch, signal: AbortSignal, metrics: TaskMetrics, logger: TaskLogger, clock: TaskClock): Promise<TaskStatusUpdate> {
    // Awaited only when there is something to wait for: each await of a settled value is a turn of
    // the microtask queue, and an empty task has little else to do.
    if (this.deps.beforeTask) await this.deps.beforeTask(launch, signal);
    const conf = confOf(launch);
    const bundlePath = await this.deps.bundles.pathOf(launch.bundleDigest);
    const inputUris = inputUrisOfPipeline(launch.plan, launch.datasetId);
    const localPaths = inputUris.length === 0 ? {} : await this.prepareInputs(launch, inputUris);
    signal.throwIfAborted();
    // Jobs of an application get a cache (possibly empty, so what they compute is kept); plain jobs none.
    const cached = launch.applicationId ? await withSpan("cache.fetch", {}, () => this.deps.cache.blocksFor(launch)) : undefined;
    // Which shuffles this partition really reads (none above a cached partition it has), and which reduce partition of each (unions shift it).
    const held = (datasetId: number, partition: number) => isHeld(launch, cached, datasetId, partition);
    const reducePartitions = new Map(shuffleReadsOf(launch.plan, launch.datasetId, launch.partition, held).map((r) => [r.shuffleIndex, r.reducePartition]));
    const reads = launch.shuffleReads.filter((r) => reducePartitions.has(r.shuffleIndex));
    if (cached) checkSkippedStagesCovered(launch, cached, reads);
    const spillDir = join(this.deps.spillRoot, encodeURIComponent(launch.taskId));
    // Only reduce-side operators spill (and fetched blocks past memory go there), and they read
    // shuffles: other tasks (most tasks of a big job) skip the dir, whose mkdir and rmdir were the
    // largest cost of an empty task here.
    const maySpill = reads.length > 0;
    if (maySpill) mkdirSync(spillDir, { recursive: true });
    try {
      // Spills never outlive their task: removed on success, failure, kill or worker crash alike.
      return await this.fetchAndRun(launch, { reads, reducePartitions, spillDir, conf, bundlePath, localPaths, cached }, signal, metrics, logger, clock);
    } finally {
      if (maySpill) rmSync(spillDir, { recursive: true, force: true });
    }
  }

  private async fetchAndRun(launch: TaskLaunch, prepared: PreparedTask, signal: AbortSignal, metrics: TaskMetrics, logger: TaskLogger, clock: TaskClock): Promise<TaskStatusUpdate> {
    const { reads, spillDir, conf } = prepared;
    const memoryLimit = Math.min(conf["ballast.executor.memory"], this.deps.taskMemoryCap);
    const store = reads.length === 0 ? undefined : new FetchedBlockStore(reads, fetchedBytesInMemory(memoryLimit), spillDir, this.deps.fetchMemory);
    try {
      return await this.fetchAndCompute(launch, prepared, { memoryLimit, store }, signal, metrics, logger, clock);
    } finally {
      store?.release();
    }
  }

  private async fetchAndCompute(
    launch: TaskLaunch,
    prepared: PreparedTask,
    { memoryLimit, store }: { memoryLimit: number; store?: FetchedBlockStore },
    signal: AbortSignal,
    metrics: TaskMetrics,
    logger: TaskLogger,
    clock: TaskClock,
  ): Promise<TaskStatusUpdate> {
    const { reads, reducePartitions, spillDir, conf, cached } = prepared;
    // A task that reads no shuffle (most tasks of a wide job's map side) gets no empty fetch span.
    const fetched = !store ? NOTHING_FETCHED : await withSpan("shuffle.fetch", { "shuffle.reads": reads.length }, (span) =>
      fetchShuffleBlocks({
        reads,
        partition: launch.partition,
        reducePartitions,
        policy: { maxRetries: conf["ballast.shuffle.io.maxRetries"], retryWaitMs: conf["ballast.shuffle.io.retryWait"], maxRetryWaitMs: conf["ballast.shuffle.io.maxRetryWait"] },
        clientFor: (address) => this.deps.shuffleClientFor(address),
        store,
        logger: logger(),
        span,
        signal,
      }),
    );
    metrics.shuffleBytesRead = fetched.bytes;
    if (fetched.bytesOnDisk > 0) logger().info({ bytes: fetched.bytes, bytesOnDisk: fetched.bytesOnDisk }, "fetched blocks past memory written to the spill dir");
    signal.throwIfAborted();
    const response = await withSpan("compute", { "dataset.id": launch.datasetId }, async () => {
      const { blocks, transfer } = prepareBlocksTransfer(fetched.blocks);
      clock.queuedAt = Date.now();
      return this.deps.pool.run(
        {
          type: "run",
          taskId: launch.taskId,
          job: jobContextOf(launch, prepared.bundlePath),
          localPaths: prepared.localPaths,
          task: partitionTaskOf(launch),
          blocks,
          spill: { memoryLimit, dir: spillDir },
          ...(cached && { cached }),
        },
        transfer,
        () => (clock.queuedMs = Date.now() - clock.queuedAt),
      );
    });
    const output = outputOf(response);
    metrics.inputBytes = response.type === "done" ? response.inputBytes : 0;
    if (response.type === "done") {
      metrics.spills = response.spilled.spills;
      metrics.spilledBytes = response.spilled.spilledBytes;
      metrics.cachedPartitionsRead = response.cache.reads;
    }
    metrics.recordsOut = output.kind === "count" ? output.count : output.recordsOut;
    signal.throwIfAborted();
    const cachedWrites = response.type === "done" && response.cache.writes.length > 0 ? await this.deps.cache.keep(launch, response.cache.writes) : [];
    const update = await this.deliver(launch, output, conf, metrics, signal);
    return cachedWrites.length > 0 ? { ...update, cachedWrites } : update;
  }

  private async prepareInputs(launch: TaskLaunch, uris: string[]): Promise<Record<string, string>> {
    const pinned = new Map(launch.plan.inputs.map((input) => [input.uri, input.sha256]));
    const paths = await Promise.all(uris.map((uri) => this.deps.inputs.localPath(uri, pinned.get(uri))));
    return Object.fromEntries(uris.map((uri, i) => [uri, paths[i]]));
  }

  private async deliver(launch: TaskLaunch, output: PartitionOutput, conf: Conf, metrics: TaskMetrics, signal: AbortSignal): Promise<TaskStatusUpdate> {
    const succeeded = { taskId: launch.taskId, state: "succeeded" as const };
    if (launch.shuffleWrite) {
      if (output.kind !== "shuffle") throw failure("executorError", `map task produced a ${output.kind} output instead of shuffle partitions`);
      const { shuffleId } = launch.shuffleWrite;
      const ref = { shuffleId, mapIndex: launch.partition, attempt: launch.attempt };
      const sizes = await withSpan("shuffle.write", { "shuffle.id": shuffleId }, () => this.deps.nodeShuffle.writeMapOutput(ref, output.partitions));
      metrics.shuffleBytesWritten = sizes.reduce((a, b) => a + b, 0);
      const mapStatus = { ...ref, shuffleAddress: this.deps.nodeShuffle.address, nodeId: this.deps.nodeId, partitionSizes: sizes };
      return { ...succeeded, mapStatus };
    }
    switch (output.kind) {
      case "collect":
        checkResultSize(output.records.byteLength, conf);
        return { ...succeeded, result: { records: output.records, count: output.recordsOut } };
      case "count":
        return { ...succeeded, result: { count: output.count } };
      case "text":
        await withSpan("output.commit", { "output.uri": launch.plan.outputUri }, () =>
          commitTextPartition(
            { outputUri: launch.plan.outputUri, taskId: launch.taskId, partition: launch.partition, data: output.data },
            { staging: this.deps.staging, authorizeCommit: (id) => this.deps.authorizeCommit(id), logger: this.deps.logger, signal },
          ),
        );
        return { ...succeeded, result: { count: output.recordsOut } };
      case "shuffle":
        throw failure("executorError", "result task produced shuffle partitions");
    }
  }

  private failedUpdate(launch: TaskLaunch, err: unknown, signal: AbortSignal): TaskStatusUpdate {
    const base = { taskId: launch.taskId };
    if (err instanceof TaskKilledError || signal.aborted) {
      const reason = err instanceof TaskKilledError ? err.message : describeError(signal.reason);
      return { ...base, state: "killed", failure: { kind: "killed", message: `task killed: ${reason}`, stack: "", errorKind: "killed" } };
    }
    if (err instanceof TaskFailure) return { ...base, state: "failed", failure: err.info };
    const message = err instanceof WorkerCrashedError ? err.message : `executor error: ${describeError(err)}`;
    return { ...base, state: "failed", failure: { kind: "executorError", message, stack: err instanceof Error ? (err.stack ?? "") : "", errorKind: "executor_error" } };
  }
}

/** The task has partition `partition` of the dataset at hand: it is persisted and its block was read from the cache. */
function isHeld(launch: TaskLaunch, cached: Record<string, Uint8Array> | undefined, datasetId: number, partition: number): boolean {
  const cacheKey = cached && launch.plan.datasets[datasetId]?.cacheKey;
  return !!cacheKey && cached[blockKeyOf(cacheKey, partition)] !== undefined;
}

/**
 * The job skipped the stages below a cached dataset (their shuffles have no
 * map outputs in the launch) and an offered partition of it could not be
 * read (its executor died, its shuffle service is gone, or it is held in
 * another executor's memory): the task fails as a FetchFailed of the cached
 * partition (its pseudo shuffle, cacheShuffleIdOf, map index = partition), so
 * the scheduler forgets that copy and runs the skipped stages, after which
 * this partition alone is computed from lineage.
 */
function checkSkippedStagesCovered(launch: TaskLaunch, cached: Record<string, Uint8Array>, reads: ShuffleReadSpec[]): void {
  if (missingLocations(reads).length === 0) return; // every shuffle it reads is there: it computes what it lacks
  const lost = (launch.cachedPartitions ?? []).find((location) => !cached[blockKeyOf(location.cacheKey, location.partition)]);
  if (!lost) return; // not a skipped stage's doing: the fetch reports the missing outputs itself
  const where = lost.diskShuffleAddress ? `on disk at ${lost.diskShuffleAddress}` : `in the memory of executor ${lost.memoryExecutorId}`;
  throw failure("fetchFailed", `cached partition ${lost.cacheKey}/${lost.partition} of application ${launch.applicationId}, held ${where}, could not be read, and this job skipped the stages that compute it`, {
    fetch: {
      shuffleId: cacheShuffleIdOf(launch.applicationId!, lost.cacheKey),
      mapIndex: lost.partition,
      mapAttempt: 0,
      shuffleAddress: lost.diskShuffleAddress,
      nodeId: "",
      serviceUnreachable: false,
    },
  });
}

function partitionTaskOf(launch: TaskLaunch): PartitionTaskSpec {
  const write = launch.shuffleWrite;
  const task: PartitionTaskSpec = {
    datasetId: launch.datasetId,
    partition: launch.partition,
    shuffleWrite: write && { shuffleIndex: write.shuffleIndex, numReducePartitions: write.numReducePartitions, rangeSamples: write.rangeSamples },
  };
  // A sample task's output comes back as a collect result (deliver's collect case), whatever the job's action.
  if (launch.sampleFor) task.sampleFor = { shuffleIndex: launch.sampleFor.shuffleIndex };
  return task;
}

/** Worker job contexts by the launch's plan object (one per job, JobPlanCache): the pool sends each to a worker once. */
const jobContexts = new WeakMap<TaskLaunch["plan"], WorkerJobContext>();

function jobContextOf(launch: TaskLaunch, bundlePath: string): WorkerJobContext {
  let job = jobContexts.get(launch.plan);
  if (!job || job.bundlePath !== bundlePath || job.bundleDigest !== launch.bundleDigest) {
    const { args, inputs, graphHash, driver } = launch.plan;
    jobContexts.set(launch.plan, (job = { bundlePath, bundleDigest: launch.bundleDigest, args, inputs, graphHash, driver }));
  }
  return job;
}

/** Resolved confs by the launch's conf object: the session's JobPlanCache gives every task of a job the same one. */
const resolvedConfs = new WeakMap<Record<string, string>, Conf>();

function confOf(launch: TaskLaunch): Conf {
  let conf = resolvedConfs.get(launch.conf);
  if (!conf) resolvedConfs.set(launch.conf, (conf = resolveConfOrFail(launch.conf)));
  return conf;
}

function resolveConfOrFail(pairs: Record<string, string>): Conf {
  try {
    return resolveConf(pairs);
  } catch (err) {
    throw failure("userError", describeError(err), { errorKind: "invalid_argument" });
  }
}

function outputOf(response: WorkerTaskResponse): PartitionOutput {
  if (response.type === "done") return response.output;
  throw failure("userError", response.message, { stack: response.stack, errorKind: response.errorKind });
}

function checkResultSize(bytes: number, conf: Conf): void {
  const limit = Math.min(conf["ballast.result.maxSize"], RESULT_WIRE_LIMIT);
  if (bytes > limit) {
    throw failure("userError", `the collected result of this partition is ${bytes} bytes, over the ${limit}-byte limit (ballast.result.maxSize, gRPC message size): use saveAsTextFile or more partitions`);
  }
}
