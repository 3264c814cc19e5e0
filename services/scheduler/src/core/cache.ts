/**
 * The cache registry: where the partitions of persisted datasets live, per
 * application. Fed by task updates (an attempt reports what it kept), so a
 * failover's new leader rebuilds it by replaying its log like everything
 * else. A "memory" partition lives and dies with its executor; a "disk" one
 * lives in its node's shuffle service (a pseudo shuffle, cacheShuffleIdOf)
 * and dies only with that service, or moves with its migrated outputs.
 */
import { cacheShuffleIdOf, type CachedPartitionLocation, type CachedPartitionRef, type CachedPartitionWrite } from "@ballast/common/domain/tasks";
import type { Ctx } from "./context.js";
import type { DatasetNode, Plan } from "@ballast/common/plan";
import { pipelineDatasets } from "./planning.js";
import type { CachedPartitionState, JobState, SchedulerState, StageState } from "./state.js";
import type { ExecutorDescription } from "./types.js";
import type { CachedDatasetInfo, EventBody } from "@ballast/common/domain/events";

export function cacheKeyOf(applicationId: string, cacheKey: string): string {
  return `${applicationId}/${cacheKey}`;
}

/** Registers what an attempt on `executorId` (node `nodeId`, shuffle service `shuffleAddress`) kept. */
export function registerCachedWrites(
  state: SchedulerState,
  applicationId: string,
  where: { executorId: string; nodeId: string; shuffleAddress: string },
  writes: readonly CachedPartitionWrite[],
): void {
  if (!applicationId) return;
  for (const write of writes) {
    if (!write.inMemory && !write.onDisk) continue; // kept nowhere: nothing to offer
    const partitions = partitionsOf(state, cacheKeyOf(applicationId, write.cacheKey));
    const known = partitions.get(write.partition);
    partitions.set(write.partition, {
      // A newer copy wins where it exists; an older one keeps the level the new one lacks.
      memoryExecutorId: write.inMemory ? where.executorId : (known?.memoryExecutorId ?? ""),
      diskNodeId: write.onDisk ? where.nodeId : (known?.diskNodeId ?? ""),
      diskShuffleAddress: write.onDisk ? where.shuffleAddress : (known?.diskShuffleAddress ?? ""),
      bytes: write.bytes,
    });
  }
}

/** An application's cached datasets and where each partition lives, by cache key (views and RPC answers). */
export function cachedDatasetsOf(state: SchedulerState, applicationId: string): Array<{ cacheKey: string; partitions: Array<CachedPartitionState & { partition: number }> }> {
  const prefix = `${applicationId}/`;
  return [...state.cache]
    .filter(([key]) => key.startsWith(prefix))
    .map(([key, partitions]) => ({
      cacheKey: key.slice(prefix.length),
      partitions: [...partitions].sort(([a], [b]) => a - b).map(([partition, entry]) => ({ partition, ...entry })),
    }));
}

/**
 * History's view of a job's persisted datasets at its end: per dataset, how
 * many partitions have a copy, their bytes, and who holds them (executors'
 * memory, nodes' shuffle services). Undefined when the plan persists nothing.
 */
export function cachedDatasetsEvent(state: SchedulerState, job: JobState): Extract<EventBody, { type: "cachedDatasets" }> | undefined {
  if (!job.applicationId) return undefined;
  const datasets = job.plan.datasets.filter((dataset) => dataset.cacheKey).map((dataset): CachedDatasetInfo => {
    const partitions = state.cache.get(cacheKeyOf(job.applicationId!, dataset.cacheKey!)) ?? new Map<number, CachedPartitionState>();
    const holders = new Map<string, { kind: string; id: string; partitions: number; bytes: number }>();
    const hold = (kind: string, id: string, bytes: number) => {
      const holder = holders.get(`${kind}/${id}`) ?? { kind, id, partitions: 0, bytes: 0 };
      holder.partitions++;
      holder.bytes += bytes;
      holders.set(`${kind}/${id}`, holder);
    };
    let bytes = 0;
    for (const entry of partitions.values()) {
      bytes += entry.bytes;
      if (entry.memoryExecutorId) hold("memory", entry.memoryExecutorId, entry.bytes);
      if (entry.diskNodeId) hold("disk", entry.diskNodeId, entry.bytes);
    }
    return {
      cacheKey: dataset.cacheKey!,
      name: `${dataset.op} at ${dataset.callSite}`,
      level: dataset.storageLevel ?? "memory",
      numPartitions: dataset.numPartitions,
      partitionsHeld: partitions.size,
      bytes,
      holders: [...holders.values()].sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind < b.kind ? -1 : 1)),
    };
  });
  return datasets.length > 0 ? { type: "cachedDatasets", applicationId: job.applicationId, datasets } : undefined;
}

/** The executor is gone, and with it every partition it kept in memory. */
export function dropExecutorMemory(state: SchedulerState, executorId: string): void {
  dropWhere(state, (entry) => (entry.memoryExecutorId === executorId ? { ...entry, memoryExecutorId: "" } : entry));
}

/** The executor evicted these memory copies (its cache budget): later tasks compute or fetch them instead. */
export function dropEvictedMemory(state: SchedulerState, executorId: string, evicted: readonly CachedPartitionRef[]): void {
  for (const ref of evicted) clearMemoryCopy(state, cacheKeyOf(ref.applicationId, ref.cacheKey), ref.partition, executorId);
}

/**
 * An executor (re)registered with the memory copies it actually holds: the
 * registry drops the ones it names this executor for and that it no longer
 * has (evictions it could not report), and adds the ones the log missed
 * (kept by a task whose update never reached a logged input).
 */
export function reconcileExecutorMemory(state: SchedulerState, executor: ExecutorDescription): void {
  const executorId = executor.executorId;
  const reported = executor.cachedPartitions ?? [];
  const held = new Map(reported.map((ref) => [`${ref.partition}#${cacheKeyOf(ref.applicationId, ref.cacheKey)}`, ref]));
  const gone: Array<[string, number]> = [];
  for (const [key, partitions] of state.cache) {
    for (const [partition, entry] of partitions) {
      if (entry.memoryExecutorId === executorId && !held.has(`${partition}#${key}`)) gone.push([key, partition]);
    }
  }
  for (const [key, partition] of gone) clearMemoryCopy(state, key, partition, executorId);
  for (const ref of held.values()) {
    const partitions = partitionsOf(state, cacheKeyOf(ref.applicationId, ref.cacheKey));
    const known = partitions.get(ref.partition);
    partitions.set(ref.partition, { memoryExecutorId: executorId, diskNodeId: known?.diskNodeId ?? "", diskShuffleAddress: known?.diskShuffleAddress ?? "", bytes: ref.bytes });
  }
}

/**
 * An executor (re)registered with what its node's shuffle service holds on
 * disk: the registry drops the disk copies it names there that the service no
 * longer has (restarted without its data) and adds the ones the log missed
 * (partitions it knows no disk copy of).
 * A registration that could not ask the service (no cachedOnDisk) changes nothing.
 */
export function reconcileNodeDisk(state: SchedulerState, executor: ExecutorDescription): void {
  if (!executor.cachedOnDisk) return;
  const address = executor.shuffleAddress;
  const held = new Map(executor.cachedOnDisk.map((ref) => [`${ref.partition}#${cacheKeyOf(ref.applicationId, ref.cacheKey)}`, ref]));
  dropWhere(state, (entry, key, partition) =>
    entry.diskShuffleAddress === address && !held.has(`${partition}#${key}`) ? { ...entry, diskNodeId: "", diskShuffleAddress: "" } : entry,
  );
  for (const ref of held.values()) {
    const partitions = partitionsOf(state, cacheKeyOf(ref.applicationId, ref.cacheKey));
    const known = partitions.get(ref.partition);
    if (known?.diskShuffleAddress) continue; // its copy here, or one migrated to a peer (this node may be going away)
    partitions.set(ref.partition, { memoryExecutorId: known?.memoryExecutorId ?? "", diskNodeId: executor.nodeId, diskShuffleAddress: address, bytes: ref.bytes });
  }
}

/** The dataset's partitions in the registry, an empty map added for a new one. */
function partitionsOf(state: SchedulerState, key: string): Map<number, CachedPartitionState> {
  let partitions = state.cache.get(key);
  if (!partitions) state.cache.set(key, (partitions = new Map()));
  return partitions;
}

/** The partition's memory copy on `executorId` is gone (a newer copy elsewhere stays); an entry left with no copy goes. */
function clearMemoryCopy(state: SchedulerState, key: string, partition: number, executorId: string): void {
  const partitions = state.cache.get(key);
  const entry = partitions?.get(partition);
  if (!partitions || entry?.memoryExecutorId !== executorId) return;
  if (entry.diskShuffleAddress) partitions.set(partition, { ...entry, memoryExecutorId: "" });
  else partitions.delete(partition);
  if (partitions.size === 0) state.cache.delete(key);
}

/** The shuffle service at `shuffleAddress` is gone, and with it every disk partition it held. */
export function dropDiskAt(state: SchedulerState, shuffleAddress: string): void {
  dropWhere(state, (entry) => (entry.diskShuffleAddress === shuffleAddress ? { ...entry, diskNodeId: "", diskShuffleAddress: "" } : entry));
}

/** Cached partitions with a disk copy held by the shuffle service at `shuffleAddress`. */
export function diskPartitionsAt(state: SchedulerState, shuffleAddress: string): number {
  let count = 0;
  for (const partitions of state.cache.values()) for (const entry of partitions.values()) if (entry.diskShuffleAddress === shuffleAddress) count++;
  return count;
}

/** A disk partition migrated with its node's shuffle data (decommission): it now lives at the peer. */
export function repointDiskPartition(
  state: SchedulerState,
  applicationId: string,
  cacheKey: string,
  partition: number,
  to: { nodeId: string; shuffleAddress: string },
): boolean {
  const entry = state.cache.get(cacheKeyOf(applicationId, cacheKey))?.get(partition);
  if (!entry || !entry.diskShuffleAddress) return false;
  entry.diskNodeId = to.nodeId;
  entry.diskShuffleAddress = to.shuffleAddress;
  return true;
}

/**
 * unpersist(): the registry forgets the dataset; every live executor frees its
 * memory copies (all of them are told: one may hold a copy the registry lost
 * track of), and the shuffle services holding its disk copies remove them.
 */
export function forgetDataset(ctx: Ctx, applicationId: string, cacheKey: string): void {
  for (const [executorId, executor] of ctx.state.executors) {
    if (executor.alive) ctx.out.push({ type: "freeCachedDataset", executorId, applicationId, cacheKey });
  }
  const key = cacheKeyOf(applicationId, cacheKey);
  const entries = ctx.state.cache.get(key);
  if (!entries) return;
  ctx.state.cache.delete(key);
  const shuffleAddresses = [...new Set([...entries.values()].map((entry) => entry.diskShuffleAddress).filter(Boolean))].sort();
  if (shuffleAddresses.length > 0) ctx.out.push({ type: "removeShuffles", jobId: "", shuffleIds: [cacheShuffleIdOf(applicationId, cacheKey)], shuffleAddresses });
}

function dropWhere(state: SchedulerState, update: (entry: CachedPartitionState, key: string, partition: number) => CachedPartitionState): void {
  for (const [key, partitions] of state.cache) {
    for (const [partition, entry] of partitions) {
      const kept = update(entry, key, partition);
      if (!kept.memoryExecutorId && !kept.diskShuffleAddress) partitions.delete(partition);
      else partitions.set(partition, kept);
    }
    if (partitions.size === 0) state.cache.delete(key);
  }
}

/**
 * The cached partitions a task of `stage` may read: those of every persisted
 * dataset its pipeline reaches (narrow parents, up to the shuffles it
 * reads). A dataset with the stage's partition count is read partition for
 * partition; any other (union, coalesce) may need all of its partitions.
 */
export function cachedLocationsFor(state: SchedulerState, job: JobState, stage: StageState, partition: number): CachedPartitionLocation[] {
  if (!job.applicationId || state.cache.size === 0) return [];
  const locations: CachedPartitionLocation[] = [];
  for (const dataset of persistedInPipeline(job.plan, stage.datasetId)) {
    const partitions = state.cache.get(cacheKeyOf(job.applicationId, dataset.cacheKey!));
    if (!partitions) continue;
    const wanted = dataset.numPartitions === stage.numPartitions ? [partition] : [...partitions.keys()].sort((a, b) => a - b);
    for (const p of wanted) {
      const entry = partitions.get(p);
      if (entry) locations.push({ cacheKey: dataset.cacheKey!, partition: p, memoryExecutorId: entry.memoryExecutorId, diskShuffleAddress: entry.diskShuffleAddress });
    }
  }
  return locations;
}

/** The persisted datasets a stage computing `datasetId` passes through (narrow parents, up to its shuffle reads). */
export function persistedInPipeline(plan: Plan, datasetId: number): DatasetNode[] {
  return pipelineDatasets(plan, datasetId).filter((dataset) => dataset.cacheKey);
}
