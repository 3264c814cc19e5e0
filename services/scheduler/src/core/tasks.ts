/**
 * Task outcomes: success (map output registration, result collection),
 * failures (retry elsewhere or abort), fetch failures (zombie attempt,
 * unregistration, batched resubmission), commit authorization, and the end
 * of a race between a task and its speculative copy (speculation.ts).
 */
import { emitEvent, jobSpanKey, markChanged, spanEnd, spanEvent, stageSpanKey, taskSpanKey, type Ctx } from "./context.js";
import { recordTaskFailure, updateNodeScore } from "./exclusion.js";
import { abortJob } from "./jobs.js";
import { isDecommissionAddress, isLeaving, unregisterServiceOutputs } from "./nodes.js";
import { requeue } from "./scheduling.js";
import { killRacers, liveRacer } from "./speculation.js";
import { failStageAttempt, onStageComplete, registerMapOutput, scheduleResubmit, unregisterMapOutputs } from "./stages.js";
import { commitKey, hasOutput, type JobState, type LiveTask, type SchedulerState, type StageAttempt, type StageState } from "./state.js";
import type { ErrorView, FetchFailure, Input, TaskFailure, TaskState } from "./types.js";

type TaskUpdate = Extract<Input, { type: "taskUpdate" }>;

export interface TaskScope {
  job: JobState;
  stage: StageState;
  attempt: StageAttempt;
  task: LiveTask;
}

export function scopeOf(state: SchedulerState, task: LiveTask): TaskScope {
  const job = state.jobs.get(task.jobId)!;
  const stage = job.stages[task.stageId]!;
  return { job, stage, attempt: stage.attempts[task.stageAttempt]!, task };
}

export function onTaskUpdate(ctx: Ctx, input: TaskUpdate): void {
  const { state } = ctx;
  const executor = state.executors.get(input.executorId);
  if (executor?.alive) executor.lastSeenMs = ctx.now;
  if (input.state === "running") return;
  const task = state.tasks.get(input.taskId);
  if (!task || task.executorId !== input.executorId) return; // unknown, ended, or from the wrong executor
  releaseSlot(state, task);
  if (task.abandoned) return;
  const scope = scopeOf(state, task);
  scope.job.liveTasks.delete(task.taskId);
  scope.stage.runningTasks--;
  if (input.metrics) scope.job.stats.inputBytes += input.metrics.inputBytes;
  const durationMs = input.metrics?.durationMs ?? ctx.now - task.launchedAtMs;
  if (input.state === "succeeded") onTaskSucceeded(ctx, scope, input, durationMs);
  else onTaskFailed(ctx, scope, input.failure ?? missingFailure(input.state), durationMs);
}

/** We end a live task ourselves (job over, race lost): it holds its slot until the executor reports. */
export function abandonTask(ctx: Ctx, task: LiveTask, reason: string): void {
  const job = ctx.state.jobs.get(task.jobId)!;
  task.abandoned = true;
  job.liveTasks.delete(task.taskId);
  job.stages[task.stageId]!.runningTasks--;
  ctx.out.push({ type: "killTask", executorId: task.executorId, taskId: task.taskId, reason });
  reportTaskEnd(ctx, task, "killed", { kind: "killed", message: reason, stack: "" });
}

export function releaseSlot(state: SchedulerState, task: LiveTask): void {
  state.tasks.delete(task.taskId);
  state.executors.get(task.executorId)?.running.delete(task.taskId);
}

function missingFailure(state: TaskState): TaskFailure {
  return state === "killed"
    ? { kind: "killed", message: "task killed", stack: "" }
    : { kind: "executorError", message: "task failed without a reported cause", stack: "" };
}

export function reportTaskEnd(ctx: Ctx, task: LiveTask, state: TaskState, error?: ErrorView, durationMs?: number): void {
  emitEvent(ctx, task.jobId, {
    type: "taskEnded",
    taskId: task.taskId,
    stageId: task.stageId,
    partition: task.partition,
    state,
    ...(error ? { error } : {}),
    durationMs: durationMs ?? ctx.now - task.launchedAtMs,
    executorId: task.executorId,
  });
  spanEnd(ctx, taskSpanKey(task.taskId), error?.message);
  markChanged(ctx, task.jobId);
}

function onTaskSucceeded(ctx: Ctx, scope: TaskScope, input: TaskUpdate, durationMs: number): void {
  const { job, stage, attempt, task } = scope;
  if (stage.shuffleWrite !== undefined) {
    const shuffle = job.shuffles[stage.shuffleWrite]!;
    const status = input.mapStatus;
    if (!status || status.partitionSizes.length !== shuffle.numReducePartitions) {
      const message = `map task ${task.taskId} reported success without a map status for ${shuffle.numReducePartitions} partitions`;
      onTaskFailed(ctx, scope, { kind: "executorError", message, stack: "" }, durationMs);
      return;
    }
    recordSuccess(ctx, scope, status.nodeId, durationMs);
    // The first output registered wins: a late or duplicate success must not repoint readers.
    if (shuffle.outputs[task.partition]) return killRacers(ctx, scope);
    const nodeId = ctx.state.executors.get(task.executorId)!.description.nodeId;
    if (isLeaving(ctx.state, nodeId)) {
      const run = attempt.runs.get(task.partition);
      if (run && liveRacer(ctx.state, scope)) run.state = "running"; // its racer may still deliver
      resubmitTask(ctx, scope, `map output written on node ${nodeId}, which is lost or decommissioned`);
      return;
    }
    killRacers(ctx, scope);
    registerMapOutput(ctx, job, stage, { ...status, shuffleId: shuffle.shuffleId, mapIndex: task.partition, attempt: task.attempt });
    return;
  }
  recordSuccess(ctx, scope, ctx.state.executors.get(task.executorId)!.description.nodeId, durationMs);
  killRacers(ctx, scope);
  const results = stage.results!;
  if (results[task.partition]) return;
  results[task.partition] = { records: input.records, count: input.count ?? 0 };
  stage.resultsDone++;
  stage.everSucceeded[task.partition] = 1;
  if (stage.resultsDone === stage.numPartitions) onStageComplete(ctx, job, stage);
}

function recordSuccess(ctx: Ctx, scope: TaskScope, nodeId: string, durationMs: number): void {
  reportTaskEnd(ctx, scope.task, "succeeded", undefined, durationMs);
  markRunDone(scope.attempt, scope.task.partition);
  scope.attempt.successDurations.push(durationMs);
  updateNodeScore(ctx, nodeId, false);
}

function markRunDone(attempt: StageAttempt, partition: number): void {
  const run = attempt.runs.get(partition);
  if (run) run.state = "done";
}

function markRunIdle(attempt: StageAttempt, partition: number): void {
  const run = attempt.runs.get(partition);
  if (run) run.state = "idle";
}

/** With a live racer (speculative copy or its original) the partition keeps running: nothing is requeued. */
function onTaskFailed(ctx: Ctx, scope: TaskScope, failure: TaskFailure, durationMs: number): void {
  const { job, attempt, task } = scope;
  const racing = liveRacer(ctx.state, scope) !== undefined;
  if (!racing) markRunIdle(attempt, task.partition);
  const error: ErrorView = { kind: failure.kind, message: failure.message, stack: failure.stack };
  reportTaskEnd(ctx, task, failure.kind === "killed" ? "killed" : "failed", error, durationMs);
  releaseCommit(scope);
  switch (failure.kind) {
    case "commitDenied": // its racer holds the commit, or another attempt does: never a failure
      if (!racing) onCommitDenied(scope);
      return;
    case "killed": // not asked by us (we abandon what we kill): relaunch, not a failure
      resubmitTask(ctx, scope, `task killed on executor ${task.executorId}: ${failure.message}`);
      return;
    case "fetchFailed":
      job.stats.taskAttemptsFailed++;
      onFetchFailed(ctx, scope, failure);
      return;
    default:
      job.stats.taskAttemptsFailed++;
      onCountedFailure(ctx, scope, failure);
  }
}

/** userError / executorError: retry elsewhere, abort after ballast.task.maxFailures. */
function onCountedFailure(ctx: Ctx, scope: TaskScope, failure: TaskFailure): void {
  const { job, stage, attempt, task } = scope;
  if (attempt.status !== "running") return; // zombie: the next attempt owns the partition
  const run = attempt.runs.get(task.partition)!;
  run.failures++;
  recordTaskFailure(ctx, job, stage, attempt, run, task.partition, task.executorId);
  if (run.failures >= job.conf["ballast.task.maxFailures"]) {
    abortJob(ctx, job, {
      kind: failure.kind,
      message: `Task ${task.partition} of stage ${stage.stageId} failed ${run.failures} times; most recent failure: ${failure.message}`,
      stack: failure.stack,
    });
    return;
  }
  if (!requeue(job, stage, task.partition)) return; // its racer is still running
  spanEvent(ctx, stageSpanKey(job.jobId, stage.stageId, attempt.attempt), "taskRetry", {
    "ballast.task_id": task.taskId,
    "ballast.partition": task.partition,
    "ballast.failures": run.failures,
    "ballast.reason": failure.message,
  });
}

/** The task ended without output through no fault of its own (lost executor, foreign kill). */
export function resubmitTask(ctx: Ctx, scope: TaskScope, reason: string): void {
  const { job, stage, attempt, task } = scope;
  if (liveRacer(ctx.state, scope)) return; // the other attempt of the race carries on
  markRunIdle(attempt, task.partition);
  if (attempt.status !== "running" || !requeue(job, stage, task.partition)) return;
  emitEvent(ctx, job.jobId, { type: "taskResubmitted", taskId: task.taskId, stageId: stage.stageId, partition: task.partition, reason });
  spanEvent(ctx, stageSpanKey(job.jobId, stage.stageId, attempt.attempt), "taskResubmitted", {
    "ballast.task_id": task.taskId,
    "ballast.partition": task.partition,
    "ballast.reason": reason,
  });
}

// ------------------------------------------------------------ fetch failures

/**
 * The named map output is unregistered (once per loss: a failure naming an
 * output already unregistered or replaced changes nothing and only requeues
 * the task, to run once its input is recomputed), the attempt becomes a
 * zombie, and the parents' missing partitions are resubmitted after the
 * batching window. Failures reading from a decommissioned node do not count
 * toward maxConsecutiveAttempts when ignoreDecommissionFetchFailure is set.
 */
function onFetchFailed(ctx: Ctx, scope: TaskScope, failure: TaskFailure): void {
  const { job, stage, attempt, task } = scope;
  const fetch = failure.fetch;
  const cause = fetch
    ? `FetchFailed(shuffle ${fetch.shuffleId}, map ${fetch.mapIndex}, ${fetch.shuffleAddress || "no location"}): ${failure.message}`
    : `FetchFailed: ${failure.message}`;
  spanEvent(ctx, jobSpanKey(job.jobId), "fetchFailed", { "ballast.task_id": task.taskId, "ballast.reason": cause });
  let newlyLost = 0;
  if (fetch?.serviceUnreachable) {
    const reason = `shuffle service ${fetch.shuffleAddress} (node ${fetch.nodeId || "unknown"}) unreachable; ${cause}`;
    newlyLost = unregisterServiceOutputs(ctx, fetch.shuffleAddress, reason, task.launchedAtMs);
  } else if (fetch) {
    newlyLost = unregisterFailedBlock(ctx, job, fetch, cause);
  }
  if (fetch && newlyLost === 0 && !isStillRegistered(job, fetch)) {
    resubmitTask(ctx, scope, `${cause} (already known lost; rerun once recomputed)`);
    return;
  }
  const decommission = fetch !== undefined && job.conf["ballast.stage.ignoreDecommissionFetchFailure"] &&
    isDecommissionAddress(ctx.state, fetch.shuffleAddress);
  if (attempt.status === "running") failStageAttempt(ctx, job, stage, attempt, cause, !decommission);
  scheduleResubmit(ctx, job);
}

/** The output the failure names is still the registered one. */
function isStillRegistered(job: JobState, fetch: FetchFailure): boolean {
  const shuffle = job.shuffles.find((candidate) => candidate?.shuffleId === fetch.shuffleId);
  const status = shuffle?.outputs[fetch.mapIndex];
  return status !== undefined && status.attempt === fetch.mapAttempt && status.shuffleAddress === fetch.shuffleAddress;
}

/** A corrupt or missing block: only that map output, if it is still the one registered. */
function unregisterFailedBlock(ctx: Ctx, job: JobState, fetch: FetchFailure, reason: string): number {
  if (!isStillRegistered(job, fetch)) return 0; // already replaced or unregistered
  const shuffle = job.shuffles.find((candidate) => candidate?.shuffleId === fetch.shuffleId)!;
  return unregisterMapOutputs(ctx, job, shuffle, [fetch.mapIndex], reason);
}

// ---------------------------------------------------------------- commits

export function onCommitRequested(ctx: Ctx, taskId: string, requestId: string): void {
  const task = ctx.state.tasks.get(taskId);
  const allowed = task !== undefined && authorizeCommit(ctx.state, task);
  ctx.out.push({ type: "commitDecision", requestId, taskId, allowed });
  if (task && !task.abandoned) spanEvent(ctx, taskSpanKey(taskId), allowed ? "commitAllowed" : "commitDenied");
}

function authorizeCommit(state: SchedulerState, task: LiveTask): boolean {
  if (task.abandoned) return false;
  const { job, attempt } = scopeOf(state, task);
  if (job.status !== "running" || attempt.status === "failed") return false;
  const key = commitKey(task.stageId, task.partition);
  const holder = job.commitAuth.get(key);
  if (holder !== undefined && holder !== task.taskId) return false;
  job.commitAuth.set(key, task.taskId);
  return true;
}

/** An authorized task ended without output: another attempt may commit now. */
export function releaseCommit(scope: TaskScope): void {
  const { job, stage, task } = scope;
  const key = commitKey(task.stageId, task.partition);
  if (job.commitAuth.get(key) !== task.taskId) return;
  job.commitAuth.delete(key);
  const latest = stage.attempts[stage.attempts.length - 1];
  if (latest?.runs.get(task.partition)?.state === "denied") requeue(job, stage, task.partition);
}

/** Another attempt holds the commit: wait for it, unless it is already gone. */
function onCommitDenied(scope: TaskScope): void {
  const { job, stage, attempt, task } = scope;
  if (job.commitAuth.has(commitKey(task.stageId, task.partition)) || hasOutput(job, stage, task.partition)) {
    attempt.runs.get(task.partition)!.state = "denied";
  } else {
    requeue(job, stage, task.partition);
  }
}
