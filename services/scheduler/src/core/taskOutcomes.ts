/**
 * What a task's final report means: success (its output goes to the stage
 * as an internal event), a counted failure (retry elsewhere or abort), a
 * commit denial or a foreign kill (neither is a failure), or a fetch failure
 * (handled by the dispatcher: it spans stages and the shuffle registry).
 */
import type { CachedPartitionWrite } from "@ballast/common/domain/tasks";
import { registerCachedWrites } from "./cache.js";
import { isLeaving } from "./clusterQueries.js";
import { onCommitDenied, releaseCommit } from "./commits.js";
import { raise, spanEvent, stageSpanKey, type Ctx } from "./context.js";
import { requeue, setRunState } from "./partitionRuns.js";
import { liveRacer, scopeOf, type TaskScope } from "./taskQueries.js";
import { abandonTask, killRacers, releaseSlot, reportTaskEnd, resubmitTask, retire } from "./tasks.js";
import type { ErrorView, MapStatus, TaskFailure, TaskReport, TaskState } from "./types.js";

/** `executorId` reported `input` about one of its tasks. */
export function onTaskUpdate(ctx: Ctx, executorId: string, input: TaskReport): void {
  const { state } = ctx;
  if (input.state === "running") return;
  const task = state.tasks.get(input.taskId);
  if (!task || task.executorId !== executorId) return; // unknown, ended, or from the wrong executor
  releaseSlot(state, task);
  if (input.state === "succeeded" && input.cachedWrites?.length) registerCache(ctx, task.jobId, task.executorId, input.cachedWrites);
  if (task.abandoned) return;
  const scope = scopeOf(state, task);
  retire(scope);
  if (input.metrics) {
    scope.job.stats.inputBytes += input.metrics.inputBytes;
    scope.job.stats.spills += input.metrics.spills;
    scope.job.stats.spilledBytes += input.metrics.spilledBytes;
    scope.job.stats.cachedPartitionsRead += input.metrics.cachedPartitionsRead ?? 0;
  }
  const durationMs = input.metrics?.durationMs ?? ctx.now - task.launchedAtMs;
  if (input.state === "succeeded") onTaskSucceeded(ctx, scope, input, durationMs);
  else onTaskFailed(ctx, scope, input.failure ?? missingFailure(input.state), durationMs);
}

/** What the attempt kept is there whether or not the job still wants the attempt (abandoned, raced). */
function registerCache(ctx: Ctx, jobId: string, executorId: string, writes: CachedPartitionWrite[]): void {
  const job = ctx.state.jobs.get(jobId);
  const executor = ctx.state.executors.get(executorId);
  if (!job || !executor?.alive) return;
  const { nodeId, shuffleAddress } = executor.description;
  registerCachedWrites(ctx.state, job.applicationId, { executorId, nodeId, shuffleAddress }, writes);
}

function missingFailure(state: TaskState): TaskFailure {
  return state === "killed"
    ? { kind: "killed", message: "task killed", stack: "" }
    : { kind: "executorError", message: "task failed without a reported cause", stack: "" };
}

function onTaskSucceeded(ctx: Ctx, scope: TaskScope, input: TaskReport, durationMs: number): void {
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
    // Spelled out, not `{ ...status, shuffleId, ... }` (the slow literal: see launchTask).
    const registered: MapStatus = { shuffleId: shuffle.shuffleId, mapIndex: task.partition, attempt: task.attempt, shuffleAddress: status.shuffleAddress, nodeId: status.nodeId, partitionSizes: status.partitionSizes };
    raise(ctx, { kind: "mapOutputProduced", jobId: job.jobId, stageId: stage.stageId, status: registered });
    return;
  }
  recordSuccess(ctx, scope, ctx.state.executors.get(task.executorId)!.description.nodeId, durationMs);
  killRacers(ctx, scope);
  raise(ctx, { kind: "resultProduced", jobId: job.jobId, stageId: stage.stageId, partition: task.partition, taskId: task.taskId, records: input.records, count: input.count ?? 0 });
}

function recordSuccess(ctx: Ctx, scope: TaskScope, nodeId: string, durationMs: number): void {
  reportTaskEnd(ctx, scope.task, "succeeded", undefined, durationMs);
  setRunState(scope.attempt, scope.task.partition, "done");
  scope.attempt.successDurations.push(durationMs);
  raise(ctx, { kind: "taskAttemptScored", nodeId, failed: false });
}

/** With a live racer (speculative copy or its original) the partition keeps running: nothing is requeued. */
function onTaskFailed(ctx: Ctx, scope: TaskScope, failure: TaskFailure, durationMs: number): void {
  const { job, attempt, task } = scope;
  const racing = liveRacer(ctx.state, scope) !== undefined;
  if (!racing) setRunState(attempt, task.partition, "idle");
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
      raise(ctx, { kind: "fetchFailed", jobId: job.jobId, task, failure });
      return;
    default:
      job.stats.taskAttemptsFailed++;
      onCountedFailure(ctx, scope, failure);
  }
}

/**
 * A task ran for ballast.task.timeout: it is killed (it holds its slot until
 * the executor reports) and counted as a failure, so it is retried elsewhere
 * and the job aborts after ballast.task.maxFailures.
 */
export function onTaskTimedOut(ctx: Ctx, taskId: string): void {
  const task = ctx.state.tasks.get(taskId);
  if (!task || task.abandoned) return;
  const scope = scopeOf(ctx.state, task);
  const timeoutMs = scope.job.conf["ballast.task.timeout"];
  const error: ErrorView = { kind: "taskTimedOut", message: `task ${taskId} ran longer than ballast.task.timeout (${timeoutMs}ms) on executor ${task.executorId} and was killed`, stack: "" };
  abandonTask(ctx, task, error.message, { state: "failed", error });
  releaseCommit(scope);
  if (liveRacer(ctx.state, scope) === undefined) setRunState(scope.attempt, task.partition, "idle");
  scope.job.stats.taskAttemptsFailed++;
  onCountedFailure(ctx, scope, error);
}

/** userError / executorError / a timeout: retry elsewhere, abort after ballast.task.maxFailures. */
function onCountedFailure(ctx: Ctx, scope: TaskScope, failure: ErrorView): void {
  const { job, stage, attempt, task } = scope;
  if (attempt.status !== "running") return; // zombie: the next attempt owns the partition
  const run = attempt.runs.get(task.partition)!;
  run.failures++;
  raise(ctx, {
    kind: "taskFailureCounted",
    jobId: job.jobId,
    stageId: stage.stageId,
    stageAttempt: attempt.attempt,
    partition: task.partition,
    executorId: task.executorId,
  });
  if (run.failures >= job.conf["ballast.task.maxFailures"]) {
    raise(ctx, {
      kind: "jobAbortRequested",
      jobId: job.jobId,
      error: {
        kind: failure.kind,
        message: `Task ${task.partition} of stage ${stage.stageId} failed ${run.failures} times; most recent failure: ${failure.message}`,
        stack: failure.stack,
      },
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
