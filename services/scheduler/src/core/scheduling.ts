/**
 * Task placement, run after every step: pending partitions of running stage
 * attempts go to usable executors (alive, on a node that is not lost or
 * decommissioning, not waiting to reconnect) they are not excluded from,
 * with free slots, least loaded first (ties by executor id), jobs FIFO. Each
 * attempt keeps a queue so a launch costs O(executors), not O(pending tasks).
 * An attempt that exclusions leave nowhere to run gets an unschedulable
 * timer (the job aborts when it fires).
 */
import { memoryHoldersFor } from "./cache.js";
import { hasUsableExecutor } from "./clusterQueries.js";
import type { Ctx } from "./context.js";
import { isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, hasFreeSlot, leastLoaded } from "./placement.js";
import { activeAttempt, hasOutput, parentsComplete, type ExecutorState, type JobState, type StageAttempt, type StageState } from "./state.js";
import { launchTask } from "./tasks.js";
import { clearTimer, setTimer, stageTimerKey } from "./timers.js";

export function schedule(ctx: Ctx): void {
  const { state } = ctx;
  if (!hasFreeSlot(state)) return;
  for (const jobId of state.runningJobs) {
    const job = state.jobs.get(jobId)!;
    for (const stageId of job.activeStages) {
      const stage = job.stages[stageId]!;
      if (!parentsComplete(job, stage)) continue; // held until lost parents are recomputed
      if (!launchFromAttempt(ctx, job, stage, activeAttempt(stage)!)) return;
    }
  }
}

/** Launches what fits; false when no free slot is left anywhere. */
function launchFromAttempt(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt): boolean {
  const allowed = allowedExecutors(ctx.state, job, attempt);
  trackUnschedulable(ctx, job, stage, attempt, allowed.length);
  if (allowed.length === 0) return true;
  if (attempt.retries.length > 0 && !launchRetries(ctx, job, stage, attempt, allowed)) return false;
  while (attempt.queueHead < attempt.queue.length) {
    const partition = attempt.queue[attempt.queueHead]!;
    if (!isLaunchable(job, stage, attempt, partition)) {
      attempt.queueHead++;
      continue;
    }
    const executor = cacheHolder(ctx, job, stage, partition, allowed) ?? leastLoaded(allowed);
    if (!executor) return hasFreeSlot(ctx.state);
    attempt.queueHead++;
    launchTask(ctx, job, stage, attempt, partition, executor);
  }
  return hasFreeSlot(ctx.state);
}

/** An allowed executor with a free slot that holds in memory a cached partition the task reads (no waiting for a busy one). */
function cacheHolder(ctx: Ctx, job: JobState, stage: StageState, partition: number, allowed: ExecutorState[]): ExecutorState | undefined {
  const holders = new Set(memoryHoldersFor(ctx.state, job, stage, partition));
  return holders.size === 0 ? undefined : leastLoaded(allowed.filter((executor) => holders.has(executor.description.executorId)));
}

/**
 * Retries go where the partition is not task-level excluded; when every
 * allowed executor is, anywhere allowed but the latest failure's executor
 * (task-level exclusion is a preference: the task still fails after
 * ballast.task.maxFailures with its own error). No preference when exclusion is off.
 */
function launchRetries(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, allowed: ExecutorState[]): boolean {
  const waiting: number[] = [];
  const avoiding = job.conf["ballast.excludeOnFailure.enabled"];
  for (const partition of attempt.retries) {
    if (!isLaunchable(job, stage, attempt, partition)) continue;
    const run = attempt.runs.get(partition)!;
    let executor: ExecutorState | undefined;
    if (!avoiding || run.failures === 0) executor = leastLoaded(allowed);
    else {
      const preferred = allowed.filter((candidate) => !isTaskExcluded(job, run, candidate));
      if (preferred.length > 0) executor = leastLoaded(preferred);
      else executor = leastLoaded(allowed, run.failedExecutors[run.failedExecutors.length - 1]) ?? leastLoaded(allowed);
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
