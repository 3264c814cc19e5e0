/**
 * Executor membership: registration (and revival), heartbeats, loss by
 * report or by heartbeat timeout. A lost executor's running tasks are
 * resubmitted without counting as failures; its map outputs stay registered
 * (they live in the node's shuffle service).
 */
import { emitEvent, type Ctx } from "./context.js";
import type { ExecutorState, LiveTask } from "./state.js";
import { releaseCommit, reportTaskEnd, resubmitTask, scopeOf } from "./tasks.js";
import type { ExecutorDescription, ExecutorView } from "./types.js";

export function onExecutorRegistered(ctx: Ctx, description: ExecutorDescription): void {
  const known = ctx.state.executors.get(description.executorId);
  if (known?.alive) {
    // A repeated registration of a live executor (e.g. reconnect): refresh, keep its tasks.
    known.description = { ...description };
    known.lastSeenMs = ctx.now;
    return;
  }
  const executor: ExecutorState = {
    description: { ...description },
    alive: true,
    running: new Set(),
    registeredAtMs: ctx.now,
    lastSeenMs: ctx.now,
    lostReason: "",
  };
  ctx.state.executors.set(description.executorId, executor);
  emitEvent(ctx, "", { type: "executorAdded", executor: viewOfExecutor(executor) });
}

/**
 * Reconciles what the executor says it runs with what we launched there:
 * killed tasks it no longer lists give their slot back (their report may be
 * lost); live tasks it does not list, launched long enough ago that the
 * launch must have arrived, are lost (e.g. the process restarted under the
 * same id before its heartbeat timed out) and resubmitted.
 */
export function onHeartbeat(ctx: Ctx, executorId: string, runningTaskIds: string[]): void {
  const executor = ctx.state.executors.get(executorId);
  if (!executor?.alive) return;
  executor.lastSeenMs = ctx.now;
  const reported = new Set(runningTaskIds);
  const graceMs = 2 * ctx.state.conf["ballast.executor.heartbeatInterval"];
  for (const taskId of executor.running) {
    const task = ctx.state.tasks.get(taskId)!;
    if (reported.has(taskId)) continue;
    if (task.abandoned) {
      executor.running.delete(taskId);
      ctx.state.tasks.delete(taskId);
    } else if (ctx.now - task.launchedAtMs >= graceMs) {
      executor.running.delete(taskId);
      loseTask(ctx, task, `executor ${executorId} no longer runs task ${taskId}`);
    }
  }
}

export function checkHeartbeats(ctx: Ctx): void {
  const timeoutMs = ctx.state.conf["ballast.executor.heartbeatTimeout"];
  for (const executor of ctx.state.executors.values()) {
    const silentMs = ctx.now - executor.lastSeenMs;
    if (executor.alive && silentMs > timeoutMs) {
      onExecutorLost(ctx, executor.description.executorId, `no heartbeat for ${silentMs}ms (timeout ${timeoutMs}ms)`);
    }
  }
}

export function onExecutorLost(ctx: Ctx, executorId: string, reason: string): void {
  const executor = ctx.state.executors.get(executorId);
  if (!executor?.alive) return;
  executor.alive = false;
  executor.lostReason = reason;
  emitEvent(ctx, "", { type: "executorRemoved", executorId, reason });
  const taskIds = [...executor.running];
  executor.running.clear();
  for (const taskId of taskIds) loseTask(ctx, ctx.state.tasks.get(taskId)!, `executor ${executorId} lost: ${reason}`);
}

/** The task is gone with its executor: resubmit it, not counted as a failure. */
function loseTask(ctx: Ctx, task: LiveTask, message: string): void {
  ctx.state.tasks.delete(task.taskId);
  if (task.abandoned) return;
  const scope = scopeOf(ctx.state, task);
  scope.job.liveTasks.delete(task.taskId);
  scope.stage.runningTasks--;
  reportTaskEnd(ctx, task, "failed", { kind: "executorLost", message, stack: "" });
  releaseCommit(scope);
  resubmitTask(ctx, scope, message);
}

export function viewOfExecutor(executor: ExecutorState): ExecutorView {
  return {
    ...executor.description,
    alive: executor.alive,
    runningTasks: executor.running.size,
    registeredAtMs: executor.registeredAtMs,
    lostReason: executor.lostReason,
  };
}
