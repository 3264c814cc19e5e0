/**
 * Task placement, run after every step: pending partitions of running stage
 * attempts go to usable executors (alive, on a node that is not lost or
 * decommissioning, not waiting to reconnect) they are not excluded from,
 * with free slots, least loaded first (ties by executor id), jobs FIFO. Each
 * attempt keeps a queue so a launch costs O(executors), not O(pending tasks).
 * An attempt that exclusions leave nowhere to run gets an unschedulable
 * timer (the job aborts when it fires).
 */
import { cachedLocationsFor } from "./cache.js";
import { hasUsableExecutor } from "./clusterQueries.js";
import type { Ctx } from "./context.js";
import { isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, attemptCapacity, hasFreeSlot, leastLoaded, type ExecutorCount } from "./placement.js";
import { neededParentsComplete } from "./cachedStages.js";
import { activeAttempt, hasOutput, type ExecutorState, type JobState, type StageAttempt, type StageState } from "./state.js";
import { launchTask } from "./tasks.js";
import { clearTimer, setTimer, stageTimerKey } from "./timers.js";

export function schedule(ctx: Ctx): void {
  const { state } = ctx;
  if (!hasFreeSlot(state)) return;
  for (const jobId of state.runningJobs) {
    const job = state.jobs.get(jobId)!;
    for (const stageId of job.activeStages) {
      const stage = job.stages[stageId]!;
      if (!neededParentsComplete(state, job, stage)) continue; // held until lost parents (or ones a lost cached partition needs) are computed
      if (!launchFromAttempt(ctx, job, stage, activeAttempt(stage)!)) return;
    }
  }
}

/** Launches what fits; false when no free slot is left anywhere. */
function launchFromAttempt(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt): boolean {
  const allowed = allowedExecutors(ctx.state, job, attempt);
  trackUnschedulable(ctx, job, stage, attempt, allowed.length);
  if (allowed.length === 0) return true;
  const capacity = attemptCapacity(job, attempt);
  if (attempt.retries.length > 0 && !launchRetries(ctx, job, stage, attempt, allowed, capacity)) return false;
  const waiting: number[] = [];
  while (attempt.queueHead < attempt.queue.length && waiting.length < MAX_WAITING_FOR_HOLDERS) {
    const partition = attempt.queue[attempt.queueHead]!;
    if (!isLaunchable(job, stage, attempt, partition)) {
      attempt.queueHead++;
      continue;
    }
    const holders = cacheHolders(ctx, job, stage, partition, allowed);
    const executor = leastLoaded(holders.all, { capacity }) ?? (holders.mustWait ? undefined : leastLoaded(allowed, { capacity }));
    if (!executor && !holders.mustWait) break;
    attempt.queueHead++;
    if (executor) launchTask(ctx, job, stage, attempt, partition, executor);
    else waiting.push(partition);
  }
  // The partitions waiting for their busy holders go back to the head of the queue, in order (those places were consumed).
  attempt.queueHead -= waiting.length;
  waiting.forEach((partition, i) => (attempt.queue[attempt.queueHead + i] = partition));
  return hasFreeSlot(ctx.state);
}

/**
 * Partitions one pass skips while they wait for a busy executor holding their
 * cached partition in memory, before it stops looking further down the queue
 * (a pass stays O(executors + this), however long the queue).
 */
const MAX_WAITING_FOR_HOLDERS = 64;

/**
 * The allowed executors holding in memory a cached partition the task reads
 * (placement prefers them). When one of them holds a copy that exists only
 * in memory, the task waits for it: that copy cannot be read from elsewhere,
 * and the job may have skipped the stages that would compute it.
 */
function cacheHolders(ctx: Ctx, job: JobState, stage: StageState, partition: number, allowed: ExecutorState[]): { all: ExecutorState[]; mustWait: boolean } {
  const locations = cachedLocationsFor(ctx.state, job, stage, partition).filter((location) => location.memoryExecutorId);
  if (locations.length === 0) return { all: [], mustWait: false };
  const holders = new Set(locations.map((location) => location.memoryExecutorId));
  const memoryOnly = new Set(locations.filter((location) => !location.diskShuffleAddress).map((location) => location.memoryExecutorId));
  const all = allowed.filter((executor) => holders.has(executor.description.executorId));
  return { all, mustWait: all.some((executor) => memoryOnly.has(executor.description.executorId)) };
}

/**
 * Retries go where the partition is not task-level excluded; when every
 * allowed executor is, anywhere allowed but the latest failure's executor
 * (task-level exclusion is a preference: the task still fails after
 * ballast.task.maxFailures with its own error). No preference when exclusion is off.
 */
function launchRetries(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, allowed: ExecutorState[], capacity: ExecutorCount): boolean {
  const waiting: number[] = [];
  const avoiding = job.conf["ballast.excludeOnFailure.enabled"];
  for (const partition of attempt.retries) {
    if (!isLaunchable(job, stage, attempt, partition)) continue;
    const run = attempt.runs.get(partition)!;
    let executor: ExecutorState | undefined;
    if (!avoiding || run.failures === 0) executor = leastLoaded(allowed, { capacity });
    else {
      const preferred = allowed.filter((candidate) => !isTaskExcluded(job, run, candidate));
      if (preferred.length > 0) executor = leastLoaded(preferred, { capacity });
      else executor = leastLoaded(allowed, { capacity, skip: run.failedExecutors[run.failedExecutors.length - 1] }) ?? leastLoaded(allowed, { capacity });
    }
    if (executor) launchTask(ctx, job, stage, attempt, partition, executor);
    else waiting.push(partition);
  }
  attempt.retries = waiting;
  return hasFreeSlot(ctx.state);
}

/** A pending partition that nothing (not even a zombie attempt) has produced yet; one that has is marked done. */
function isLaunchable(job: JobState, stage: StageState, attempt: StageAttempt, partition: number): boolean {
  const run = attempt.runs.get(partition)!;
  if (run.state !== "pending") return false;
  if (hasOutput(job, stage, partition)) {
    run.state = "done";
    return false;
  }
  return true;
}

function hasLaunchable(job: JobState, stage: StageState, attempt: StageAttempt): boolean {
  if (attempt.retries.some((partition) => isLaunchable(job, stage, attempt, partition))) return true;
  for (let index = attempt.queueHead; index < attempt.queue.length; index++) {
    if (isLaunchable(job, stage, attempt, attempt.queue[index]!)) return true;
  }
  return false;
}

/** `allowed` usable executors remain for the attempt after exclusions. */
function trackUnschedulable(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, allowed: number): void {
  const key = stageTimerKey(job.jobId, stage.stageId);
  if (allowed > 0) {
    attempt.unschedulableSinceMs = -1;
    clearTimer(ctx.state, "unschedulable", key);
    return;
  }
  if (attempt.unschedulableSinceMs !== -1) return;
  // No usable executor at all is a capacity problem, not an exclusion one.
  if (!hasUsableExecutor(ctx.state) || !hasLaunchable(job, stage, attempt)) return;
  attempt.unschedulableSinceMs = ctx.now;
  setTimer(ctx.state, "unschedulable", key, ctx.now + job.conf["ballast.excludeOnFailure.unschedulableTimeout"]);
}
