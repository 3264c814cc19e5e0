/**
 * Commit authorization: at most one task attempt per output partition may
 * commit; when the holder ends without output another attempt may.
 */
import { spanEvent, taskSpanKey, type Ctx } from "./context.js";
import { requeue } from "./partitionRuns.js";
import { commitKey, hasOutput, type LiveTask, type SchedulerState } from "./state.js";
import { scopeOf, type TaskScope } from "./taskQueries.js";

export function onCommitRequested(ctx: Ctx, taskId: string, requestId: string): void {
  const task = ctx.state.tasks.get(taskId);
  const allowed = task !== undefined && authorizeCommit(ctx.state, task);
  ctx.out.push({ type: "commitDecision", requestId, taskId, allowed });
  if (task && !task.abandoned) spanEvent(ctx, taskSpanKey(taskId), allowed ? "commitAllowed" : "commitDenied");
}

function authorizeCommit(state: SchedulerState, task: LiveTask): boolean {
  if (task.abandoned) return false;
  const { job, attempt } = scopeOf(state, task);
  if (job.status !== "running" || job.committing || attempt.status === "failed") return false;
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
export function onCommitDenied(scope: TaskScope): void {
  const { job, stage, attempt, task } = scope;
  if (job.commitAuth.has(commitKey(task.stageId, task.partition)) || hasOutput(job, stage, task.partition)) {
    attempt.runs.get(task.partition)!.state = "denied";
  } else {
    requeue(job, stage, task.partition);
  }
}
