/**
 * Stages a job need not run because the cache holds what they would feed.
 * Every job is planned with its full stage graph; a parent stage is needed
 * only while the dataset that reads its shuffle is not wholly cached (every
 * partition has a copy, in an executor's memory or on a node's disk). The
 * decision is a function of the registry, taken again whenever it changes:
 * a cached partition lost mid-job makes the skipped stages needed, they run
 * (the shuffle a reduce partition reads needs all its map outputs), and then
 * the lost partition alone is computed from lineage.
 */
import { parseCacheShuffleId } from "@ballast/common/domain/tasks";
import type { Plan } from "@ballast/common/plan";
import { cacheKeyOf } from "./cache.js";
import { jobSpanKey, raise, spanEvent, type Ctx } from "./context.js";
import { pipelineDatasets } from "./planning.js";
import { isStageComplete, type JobState, type SchedulerState, type StageState } from "./state.js";
import type { TaskScope } from "./taskQueries.js";
import { resubmitTask } from "./tasks.js";
import type { FetchFailure } from "./types.js";

/** Every partition of the persisted dataset has a copy (memory or disk) registered for the application. */
export function wholeCached(state: SchedulerState, applicationId: string, plan: Plan, datasetId: number): boolean {
  const dataset = plan.datasets.find((candidate) => candidate.id === datasetId);
  if (!applicationId || !dataset?.cacheKey || dataset.numPartitions === 0) return false;
  const partitions = state.cache.get(cacheKeyOf(applicationId, dataset.cacheKey));
  if (!partitions || partitions.size < dataset.numPartitions) return false;
  for (let p = 0; p < dataset.numPartitions; p++) if (!partitions.has(p)) return false;
  return true;
}

/**
 * The parent stages the stage needs now: those writing a shuffle its
 * pipeline reads below no wholly cached dataset (and, for a
 * range-partitioned shuffle's map stage, its sample stage).
 */
export function neededParentIds(state: SchedulerState, job: JobState, stage: StageState): number[] {
  if (!job.applicationId || state.cache.size === 0 || stage.parentStageIds.length === 0) return stage.parentStageIds;
  const cached = (datasetId: number) => wholeCached(state, job.applicationId, job.plan, datasetId);
  const reads = new Set<number>();
  for (const dataset of pipelineDatasets(job.plan, stage.datasetId, cached)) {
    if (cached(dataset.id)) continue; // read from the cache: nothing upstream of it is computed
    for (const shuffle of job.plan.shuffles) if (shuffle.childDatasetId === dataset.id) reads.add(shuffle.shuffleIndex);
  }
  return stage.parentStageIds.filter((id) => {
    const parent = job.stages[id]!;
    return parent.sampleFor !== undefined ? parent.sampleFor === stage.shuffleWrite : reads.has(parent.shuffleWrite!);
  });
}

/** The stage's needed parents are complete: its tasks may launch. */
export function neededParentsComplete(state: SchedulerState, job: JobState, stage: StageState): boolean {
  return neededParentIds(state, job, stage).every((id) => isStageComplete(job, job.stages[id]!));
}

/**
 * Copies left the registry (an executor or shuffle service lost, evictions,
 * unpersist, a registration that no longer holds them): every running job of
 * an application advances again, so one that skipped stages below a dataset
 * no longer whole runs them now (its held tasks wait for them).
 */
export function cacheShrank(ctx: Ctx): void {
  for (const jobId of ctx.state.runningJobs) {
    if (ctx.state.jobs.get(jobId)!.applicationId) raise(ctx, { kind: "jobProgress", jobId });
  }
}

/**
 * A task could not read a cached partition its job skipped the stages for
 * (a FetchFailed of the dataset's pseudo shuffle): that copy leaves the
 * registry, the task waits in its attempt (not a failure of its own) for the
 * stages that are needed now, and is then computed from lineage.
 */
export function onCachedPartitionUnreadable(ctx: Ctx, scope: TaskScope, fetch: FetchFailure, cause: string): void {
  const dataset = parseCacheShuffleId(fetch.shuffleId)!;
  const key = cacheKeyOf(dataset.applicationId, dataset.cacheKey);
  const partitions = ctx.state.cache.get(key);
  if (partitions?.delete(fetch.mapIndex) && partitions.size === 0) ctx.state.cache.delete(key);
  spanEvent(ctx, jobSpanKey(scope.job.jobId), "cachedPartitionLost", {
    "ballast.cache_key": dataset.cacheKey,
    "ballast.partition": fetch.mapIndex,
    "ballast.reason": cause,
  });
  resubmitTask(ctx, scope, `${cause} (computed from lineage once the skipped stages have run)`);
  cacheShrank(ctx);
}
