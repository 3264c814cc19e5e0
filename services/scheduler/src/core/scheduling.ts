/**
 * Task placement: pending partitions of running stage attempts go to usable
 * executors (alive, on a node that is not lost or decommissioning, not
 * waiting to reconnect) they are not excluded from, with free slots, least
 * loaded first (ties by executor id), jobs FIFO. Each attempt keeps a queue so a launch costs O(executors), not
 * O(pending tasks).
 */
import { emitEvent, markChanged, spanStart, stageSpanKey, taskSpanKey, type Ctx } from "./context.js";
import { isExcludedFor, isTaskExcluded, trackUnschedulable } from "./exclusion.js";
import { isUsable } from "./nodes.js";
import {
  activeAttempt,
  hasOutput,
  newRun,
  parentsComplete,
  type ExecutorState,
  type JobState,
  type ShuffleState,
  type StageAttempt,
  type StageState,
} from "./state.js";
import type { ShuffleReadSpec, TaskLaunch } from "./types.js";

export function schedule(ctx: Ctx): void {
  const { state } = ctx;
  if (!hasFreeSlot(ctx)) return;
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
  const allowed = allowedExecutors(ctx, job, attempt);
  trackUnschedulable(ctx, attempt, allowed.length, () => hasLaunchable(job, stage, attempt));
  if (allowed.length === 0) return true;
  if (attempt.retries.length > 0 && !launchRetries(ctx, job, stage, attempt, allowed)) return false;
  while (attempt.queueHead < attempt.queue.length) {
    const partition = attempt.queue[attempt.queueHead]!;
    if (!isLaunchable(job, stage, attempt, partition)) {
      attempt.queueHead++;
      continue;
    }
    const executor = leastLoaded(allowed);
    if (!executor) return hasFreeSlot(ctx);
    attempt.queueHead++;
    launch(ctx, job, stage, attempt, partition, executor);
  }
  return hasFreeSlot(ctx);
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
    if (executor) launch(ctx, job, stage, attempt, partition, executor);
    else waiting.push(partition);
  }
  attempt.retries = waiting;
  return hasFreeSlot(ctx);
}

/** A pending partition that nothing (not even a zombie attempt) has produced yet. */
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

function hasFreeSlot(ctx: Ctx): boolean {
  for (const executor of ctx.state.executors.values()) {
    if (executor.running.size < executor.description.slots && isUsable(ctx.state, executor)) return true;
  }
  return false;
}

/** Usable executors (alive, on an active node) the attempt is not excluded from, free or not. */
export function allowedExecutors(ctx: Ctx, job: JobState, attempt: StageAttempt): ExecutorState[] {
  const allowed: ExecutorState[] = [];
  for (const executor of ctx.state.executors.values()) {
    if (isUsable(ctx.state, executor) && !isExcludedFor(ctx.state, job, attempt, executor)) allowed.push(executor);
  }
  return allowed;
}

/** The candidate with a free slot and the fewest running tasks (ties by executor id), except `skip`. */
export function leastLoaded(candidates: ExecutorState[], skip?: string): ExecutorState | undefined {
  let best: ExecutorState | undefined;
  for (const executor of candidates) {
    if (executor.running.size >= executor.description.slots || executor.description.executorId === skip) continue;
    if (!best || executor.running.size < best.running.size ||
      (executor.running.size === best.running.size && executor.description.executorId < best.description.executorId)) {
      best = executor;
    }
  }
  return best;
}

/** Launches a task of the partition; a speculative `copy` is never counted as a recomputation. Returns its id. */
export function launch(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, partition: number, executor: ExecutorState, copy = false): string {
  const run = attempt.runs.get(partition)!;
  const taskAttempt = stage.nextTaskAttempt[partition]!++;
  const taskId = `${job.jobId}.${stage.stageId}.${attempt.attempt}.${partition}.${taskAttempt}`;
  const executorId = executor.description.executorId;
  run.state = "running";
  ctx.state.tasks.set(taskId, {
    taskId,
    jobId: job.jobId,
    stageId: stage.stageId,
    stageAttempt: attempt.attempt,
    partition,
    attempt: taskAttempt,
    executorId,
    launchedAtMs: ctx.now,
    abandoned: false,
  });
  executor.running.add(taskId);
  job.liveTasks.add(taskId);
  stage.runningTasks++;
  job.stats.tasksLaunched++;
  if (stage.everSucceeded[partition] && !copy) job.stats.recomputedTasks++;

  spanStart(ctx, taskSpanKey(taskId), `task ${stage.stageId}.${partition}`, {
    "ballast.task_id": taskId,
    "ballast.stage_id": stage.stageId,
    "ballast.stage_attempt": attempt.attempt,
    "ballast.partition": partition,
    "ballast.attempt": taskAttempt,
    "ballast.executor_id": executorId,
    "ballast.node_id": executor.description.nodeId,
  }, { parentKey: stageSpanKey(job.jobId, stage.stageId, attempt.attempt) });
  ctx.out.push({ type: "launchTask", executorId, task: taskLaunch(job, stage, attempt, partition, taskAttempt, taskId) });
  emitEvent(ctx, job.jobId, {
    type: "taskStarted",
    taskId,
    stageId: stage.stageId,
    stageAttempt: attempt.attempt,
    partition,
    attempt: taskAttempt,
    executorId,
    nodeId: executor.description.nodeId,
  });
  markChanged(ctx, job.jobId);
  return taskId;
}

function taskLaunch(job: JobState, stage: StageState, attempt: StageAttempt, partition: number, taskAttempt: number, taskId: string): TaskLaunch {
  const launch: TaskLaunch = {
    taskId,
    jobId: job.jobId,
    stageId: stage.stageId,
    stageAttempt: attempt.attempt,
    partition,
    attempt: taskAttempt,
    bundleDigest: job.bundleDigest,
    plan: job.plan,
    datasetId: stage.datasetId,
    shuffleReads: stage.shuffleReads.map((index) => readSpec(job.shuffles[index]!)),
    conf: job.rawConf,
  };
  if (stage.shuffleWrite !== undefined) {
    const shuffle = job.shuffles[stage.shuffleWrite]!;
    launch.shuffleWrite = {
      shuffleIndex: shuffle.shuffleIndex,
      shuffleId: shuffle.shuffleId,
      numReducePartitions: shuffle.numReducePartitions,
    };
  }
  return launch;
}

/**
 * Where a shuffle's map outputs live. Shared by every launch until the
 * registry changes: callers must treat it as read-only.
 */
function readSpec(shuffle: ShuffleState): ShuffleReadSpec {
  if (!shuffle.readSpec) {
    const locations: ShuffleReadSpec["locations"] = [];
    shuffle.outputs.forEach((status, mapIndex) => {
      if (status) locations.push({ mapIndex, attempt: status.attempt, shuffleAddress: status.shuffleAddress, nodeId: status.nodeId });
    });
    shuffle.readSpec = { shuffleIndex: shuffle.shuffleIndex, shuffleId: shuffle.shuffleId, numMaps: shuffle.numMaps, locations };
  }
  return shuffle.readSpec;
}

/** Puts a partition of a running attempt back in line (after a failure or loss). */
export function requeue(job: JobState, stage: StageState, partition: number): boolean {
  const attempt = activeAttempt(stage);
  if (!attempt || hasOutput(job, stage, partition)) return false;
  let run = attempt.runs.get(partition);
  if (run?.state === "pending" || run?.state === "running") return false;
  if (!run) {
    run = newRun();
    attempt.runs.set(partition, run);
    attempt.partitions.push(partition);
  }
  run.state = "pending";
  attempt.retries.push(partition);
  return true;
}
