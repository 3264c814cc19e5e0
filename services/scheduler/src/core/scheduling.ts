/**
 * Task placement: pending partitions of running stage attempts go to alive
 * executors with free slots, least loaded first (ties by executor id), jobs
 * FIFO. Each attempt keeps a queue so a launch costs O(executors), not
 * O(pending tasks).
 */
import { emitEvent, markChanged, spanStart, stageSpanKey, taskSpanKey, type Ctx } from "./context.js";
import {
  activeAttempt,
  hasOutput,
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
  if (attempt.retries.length > 0 && !launchRetries(ctx, job, stage, attempt)) return false;
  while (attempt.queueHead < attempt.queue.length) {
    const partition = attempt.queue[attempt.queueHead]!;
    if (!isLaunchable(job, stage, attempt, partition)) {
      attempt.queueHead++;
      continue;
    }
    const executor = leastLoaded(ctx, []);
    if (!executor) return false;
    attempt.queueHead++;
    launch(ctx, job, stage, attempt, partition, executor);
  }
  return hasFreeSlot(ctx);
}

function launchRetries(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt): boolean {
  const waiting: number[] = [];
  for (const partition of attempt.retries) {
    if (!isLaunchable(job, stage, attempt, partition)) continue;
    const avoid = attempt.runs.get(partition)!.avoid;
    const executor = leastLoaded(ctx, avoid) ?? (onlyAvoidedAlive(ctx, avoid) ? fallbackExecutor(ctx, avoid) : undefined);
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

function hasFreeSlot(ctx: Ctx): boolean {
  for (const executor of ctx.state.executors.values()) {
    if (executor.alive && executor.running.size < executor.description.slots) return true;
  }
  return false;
}

/** The alive executor with a free slot and the fewest running tasks, not in `avoid`. */
function leastLoaded(ctx: Ctx, avoid: string[]): ExecutorState | undefined {
  let best: ExecutorState | undefined;
  for (const executor of ctx.state.executors.values()) {
    if (!executor.alive || executor.running.size >= executor.description.slots) continue;
    if (avoid.length > 0 && avoid.includes(executor.description.executorId)) continue;
    if (!best || executor.running.size < best.running.size ||
      (executor.running.size === best.running.size && executor.description.executorId < best.description.executorId)) {
      best = executor;
    }
  }
  return best;
}

/** Every executor was tried: at least avoid the latest failure's one, if another has room. */
function fallbackExecutor(ctx: Ctx, avoid: string[]): ExecutorState | undefined {
  return leastLoaded(ctx, avoid.slice(-1)) ?? leastLoaded(ctx, []);
}

/** True when every alive executor is one the partition failed on: no better place exists. */
function onlyAvoidedAlive(ctx: Ctx, avoid: string[]): boolean {
  for (const executor of ctx.state.executors.values()) {
    if (executor.alive && !avoid.includes(executor.description.executorId)) return false;
  }
  return true;
}

function launch(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, partition: number, executor: ExecutorState): void {
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
  if (stage.everSucceeded[partition]) job.stats.recomputedTasks++;

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
    run = { state: "pending", failures: 0, avoid: [] };
    attempt.runs.set(partition, run);
    attempt.partitions.push(partition);
  }
  run.state = "pending";
  attempt.retries.push(partition);
  return true;
}
