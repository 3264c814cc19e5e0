/**
 * What the simulated executors do with a launched task: fail it (bad node,
 * user errors), read its shuffle inputs (fetch failures), write its map
 * output to the node's shuffle service or return its result (asking to
 * commit first for saveAsTextFile), and report back to the scheduler.
 * Some tasks may be stragglers (slowTaskRate), to exercise speculative copies.
 */
import { cacheShuffleIdOf, emptyMetrics, parseCacheShuffleId, type CachedPartitionRef, type CachedPartitionWrite, type TaskMetrics } from "@ballast/common/domain/tasks";
import { persistedInPipeline } from "../src/core/cache.js";
import { pipelineDatasets } from "../src/core/planning.js";
import type { FetchFailure, TaskFailure, TaskLaunch } from "../src/core/types.js";
import { SimCluster } from "./simCluster.js";
import type { SimNode } from "./simModel.js";

interface CacheUse {
  metrics: TaskMetrics;
  writes: CachedPartitionWrite[];
}

function cacheFields(cache: CacheUse): { metrics?: TaskMetrics; cachedWrites?: CachedPartitionWrite[] } {
  return {
    ...(cache.metrics.cachedPartitionsRead ? { metrics: cache.metrics } : {}),
    ...(cache.writes.length > 0 ? { cachedWrites: cache.writes } : {}),
  };
}

/** A memory block key (`<cache shuffle id>/<partition>/0`) as an executor names it to the scheduler. */
export function cachedRefOf(blockKey: string): CachedPartitionRef {
  const [shuffleId, partition] = blockKey.split("/");
  const { applicationId, cacheKey } = parseCacheShuffleId(shuffleId!)!;
  return { applicationId, cacheKey, partition: Number(partition), bytes: 8 };
}

/** The shuffles a task reads to compute the dataset's partition (those of its narrow lineage's wide datasets). */
function shufflesAbove(task: TaskLaunch, datasetId: number): number[] {
  const lineage = new Set(pipelineDatasets(task.plan, datasetId).map((dataset) => dataset.id));
  return task.plan.shuffles.filter((shuffle) => lineage.has(shuffle.childDatasetId)).map((shuffle) => shuffle.shuffleIndex);
}

export abstract class SimExecutors extends SimCluster {
  /** The truth about executors' memory: executor id -> cached blocks it holds (a restarted executor has a new id, and nothing). */
  protected readonly memoryCache = new Map<string, Set<string>>();
  /** No bad node, no user errors (a warm-up action). */
  protected faultFree = false;

  protected memoryHeldBy(executorId: string): CachedPartitionRef[] {
    return [...(this.memoryCache.get(executorId) ?? [])].map(cachedRefOf);
  }

  protected diskHeldBy(node: SimNode): CachedPartitionRef[] {
    return [...node.service.blocks.keys()].filter((blockKey) => parseCacheShuffleId(blockKey.split("/")[0]!)).map(cachedRefOf);
  }

  protected taskDurationMs(): number {
    const durationMs = 50 + this.random() * 350;
    const slowRate = this.options.slowTaskRate ?? 0;
    return slowRate > 0 && this.random() < slowRate ? 2000 + this.random() * 4000 : durationMs;
  }

  protected finishTask(taskId: string): void {
    const entry = this.running.get(taskId);
    if (!entry) return;
    const { node, executorId, task } = entry;
    if (node.paused) {
      node.deferred.push(() => this.finishTask(taskId));
      return;
    }
    this.running.delete(taskId);
    if (!this.faultFree && ((this.options.badNode && node.index === 0) || this.random() < (this.options.userErrorRate ?? 0))) {
      return this.report(node, executorId, taskId, { kind: "userError", message: "Error: disk I/O error", stack: "at job.ts:1" });
    }
    const lostCopy = this.unreadableSkippedCopy(executorId, task);
    if (lostCopy) return this.report(node, executorId, taskId, { kind: "fetchFailed", message: "cached partition unreadable, its stages skipped", stack: "", fetch: lostCopy });
    const fetch = this.readShuffles(task, executorId);
    if (fetch) {
      const key = `${fetch.shuffleId}/${fetch.mapIndex}/${fetch.shuffleAddress}`;
      this.fetchFailures[this.decommissionedAddresses.has(fetch.shuffleAddress) ? "decommission" : "plain"].add(key);
      return this.report(node, executorId, taskId, { kind: "fetchFailed", message: "fetch failed after retries", stack: "", fetch });
    }
    const cache = this.useCache(node, executorId, task);
    if (task.shuffleWrite) this.succeedMapTask(node, executorId, task, cache);
    else this.succeedResultTask(node, executorId, task, cache);
  }

  /**
   * Persisted partitions of the task's pipeline: read where the launch names
   * a copy that really is readable (this executor's memory, an up service's
   * intact block), otherwise computed and kept at the dataset's level.
   */
  protected useCache(node: SimNode, executorId: string, task: TaskLaunch): CacheUse {
    const use: CacheUse = { metrics: { ...emptyMetrics(), cachedPartitionsRead: 0 }, writes: [] };
    if (!task.applicationId) return use;
    const held = this.memoryCache.get(executorId) ?? new Set<string>();
    this.memoryCache.set(executorId, held);
    for (const dataset of persistedInPipeline(task.plan, task.datasetId)) {
      const cacheKey = dataset.cacheKey!;
      const blockKey = `${cacheShuffleIdOf(task.applicationId, cacheKey)}/${task.partition}/0`;
      if (this.readableCopy(executorId, task, cacheKey)) {
        use.metrics.cachedPartitionsRead!++;
        continue;
      }
      const level = dataset.storageLevel!;
      if (level !== "disk") held.add(blockKey);
      if (level !== "memory" && node.service.up) node.service.blocks.set(blockKey, false);
      use.writes.push({ cacheKey, partition: task.partition, inMemory: level !== "disk", onDisk: level !== "memory" && node.service.up, bytes: 8 });
    }
    return use;
  }

  /** The launch offers the task's partition of the persisted dataset where this executor can really read it. */
  private readableCopy(executorId: string, task: TaskLaunch, cacheKey: string): boolean {
    const blockKey = `${cacheShuffleIdOf(task.applicationId!, cacheKey)}/${task.partition}/0`;
    const offered = task.cachedPartitions?.find((location) => location.cacheKey === cacheKey && location.partition === task.partition);
    const inMemory = offered?.memoryExecutorId === executorId && this.memoryCache.get(executorId)?.has(blockKey) === true;
    const service = offered?.diskShuffleAddress ? this.services.get(offered.diskShuffleAddress) : undefined;
    return inMemory || (service?.up === true && service.blocks.get(blockKey) === false);
  }

  /** Shuffles the task reads to compute its partition: none above a persisted dataset it reads from the cache. */
  private neededReads(task: TaskLaunch, executorId: string): TaskLaunch["shuffleReads"] {
    if (!task.applicationId) return task.shuffleReads;
    const covered = new Set<number>();
    for (const dataset of persistedInPipeline(task.plan, task.datasetId)) {
      if (this.readableCopy(executorId, task, dataset.cacheKey!)) for (const index of shufflesAbove(task, dataset.id)) covered.add(index);
    }
    return task.shuffleReads.filter((read) => !covered.has(read.shuffleIndex));
  }

  /**
   * As the executor (runner.ts): a persisted partition it cannot read while
   * the shuffles below it have no outputs (the job skipped their stages) is a
   * FetchFailed of the cached partition.
   */
  private unreadableSkippedCopy(executorId: string, task: TaskLaunch): FetchFailure | undefined {
    if (!task.applicationId) return undefined;
    for (const dataset of persistedInPipeline(task.plan, task.datasetId)) {
      if (this.readableCopy(executorId, task, dataset.cacheKey!)) continue;
      const above = new Set(shufflesAbove(task, dataset.id));
      if (!task.shuffleReads.some((read) => above.has(read.shuffleIndex) && read.locations.length < read.numMaps)) continue;
      const offered = task.cachedPartitions?.find((location) => location.cacheKey === dataset.cacheKey && location.partition === task.partition);
      return { shuffleId: cacheShuffleIdOf(task.applicationId, dataset.cacheKey!), mapIndex: task.partition, mapAttempt: 0, shuffleAddress: offered?.diskShuffleAddress ?? "", nodeId: "", serviceUnreachable: false };
    }
    return undefined;
  }

  /** The first unreadable block, as the executor would report it after its retries. */
  protected readShuffles(task: TaskLaunch, executorId: string): FetchFailure | undefined {
    for (const read of this.neededReads(task, executorId)) {
      if (read.locations.length < read.numMaps) this.checks.violation(`task ${task.taskId} computes from shuffle ${read.shuffleId} with ${read.locations.length} of ${read.numMaps} map outputs`);
      for (const location of read.locations) {
        const base = { shuffleId: read.shuffleId, mapIndex: location.mapIndex, mapAttempt: location.attempt, shuffleAddress: location.shuffleAddress, nodeId: location.nodeId };
        const service = this.services.get(location.shuffleAddress);
        if (!service?.up) return { ...base, serviceUnreachable: true };
        if (service.blocks.get(`${read.shuffleId}/${location.mapIndex}/${location.attempt}`) !== false) return { ...base, serviceUnreachable: false };
      }
    }
    return undefined;
  }

  protected succeedMapTask(node: SimNode, executorId: string, task: TaskLaunch, cache: CacheUse): void {
    const write = task.shuffleWrite!;
    if (!node.service.up) return this.report(node, executorId, task.taskId, { kind: "executorError", message: "shuffle service unavailable", stack: "" });
    node.service.blocks.set(`${write.shuffleId}/${task.partition}/${task.attempt}`, false);
    this.fromExecutor(node, executorId, {
      type: "taskUpdate", executorId, taskId: task.taskId, state: "succeeded",
      mapStatus: {
        shuffleId: write.shuffleId, mapIndex: task.partition, attempt: task.attempt, shuffleAddress: node.service.address, nodeId: node.nodeId,
        partitionSizes: new Array<number>(write.numReducePartitions).fill(8),
      },
      ...cacheFields(cache),
    });
  }

  protected succeedResultTask(node: SimNode, executorId: string, task: TaskLaunch, cache: CacheUse): void {
    if (task.plan.action === "saveAsTextFile") {
      if (node.paused || !node.session || this.schedulerDown) {
        // The commit request cannot reach the scheduler now: try again later.
        this.running.set(task.taskId, { node, executorId, task });
        this.at(200, () => this.finishTask(task.taskId));
        return;
      }
      const decision = this.send({ type: "commitRequested", taskId: task.taskId, requestId: `commit-${task.taskId}` }).find((command) => command.type === "commitDecision");
      if (decision?.type !== "commitDecision" || !decision.allowed) return this.report(node, executorId, task.taskId, { kind: "commitDenied", message: "commit denied", stack: "" });
    }
    this.fromExecutor(node, executorId, { type: "taskUpdate", executorId, taskId: task.taskId, state: "succeeded", records: Uint8Array.of(task.partition % 256), count: 1, ...cacheFields(cache) });
  }

  protected report(node: SimNode, executorId: string, taskId: string, failure: TaskFailure): void {
    this.fromExecutor(node, executorId, { type: "taskUpdate", executorId, taskId, state: "failed", failure });
  }
}
