/**
 * Executor membership: registration (and revival), heartbeats, loss by
 * report, heartbeat timeout or missed reconnect after a failover. A lost
 * executor's running tasks are resubmitted without counting as failures; its
 * map outputs stay registered (they live in the node's shuffle service),
 * unless the probe the loss triggers finds the shuffle service gone too.
 */
import { emitEvent, type Ctx } from "./context.js";
import { ensureNode, nodeOf, nodeStateOf, spanEventOnRunningJobs } from "./nodes.js";
import type { ExecutorState, LiveTask, SchedulerState } from "./state.js";
import { releaseCommit, reportTaskEnd, resubmitTask, scopeOf } from "./tasks.js";
import type { ExecutorDescription, ExecutorView, ResourceState } from "./types.js";

export function onExecutorRegistered(ctx: Ctx, description: ExecutorDescription): void {
  const { state } = ctx;
  const known = state.executors.get(description.executorId);
  const { node, fresh } = ensureNode(state, description);
  reviveNode(ctx, node, fresh);
  if (known?.alive) {
    // A reconnect (after a failover or a broken stream): it keeps its tasks.
    known.description = withoutTasks(description);
    known.lastSeenMs = ctx.now;
    known.reconnectDeadlineMs = 0;
    known.graceUntilMs = ctx.now + 2 * state.conf["ballast.executor.heartbeatInterval"];
    killUnknownTasks(ctx, known, description.runningTaskIds ?? []);
    return;
  }
  const executor: ExecutorState = {
    description: withoutTasks(description),
    alive: true,
    running: new Set(),
    registeredAtMs: ctx.now,
    lastSeenMs: ctx.now,
    lostReason: "",
    // An executor revived under the same id keeps its exclusion record.
    excludedUntilMs: known?.excludedUntilMs ?? 0,
    excludedReason: known?.excludedReason ?? "",
    failureTimes: known?.failureTimes ?? [],
    reconnectDeadlineMs: 0,
    graceUntilMs: 0,
  };
  state.executors.set(description.executorId, executor);
  emitEvent(ctx, "", { type: "executorAdded", executor: viewOfExecutor(state, executor) });
  killUnknownTasks(ctx, executor, description.runningTaskIds ?? []);
}

/**
 * A registration brings a lost node back (its shuffle service answers again);
 * a NEW executor id on a decommissioned node is a fresh machine reusing the id.
 */
function reviveNode(ctx: Ctx, node: ReturnType<typeof ensureNode>["node"], fresh: boolean): void {
  const wasLost = node.lost;
  node.lost = false;
  node.lostReason = "";
  if (node.decommission && (wasLost || (fresh && node.decommission.phase === "decommissioned"))) {
    node.decommission = undefined;
    // A fresh machine reusing the address: failures reading it are not decommission's any more.
    ctx.state.decommissionedAddresses.delete(node.shuffleAddress);
    ctx.state.decommissioning.delete(node.nodeId);
    emitEvent(ctx, "", { type: "decommissionChanged", nodeId: node.nodeId, phase: "recommissioned", deadlineMs: 0, reason: "a new executor registered on the node" });
  }
  if (wasLost) spanEventOnRunningJobs(ctx, "nodeRejoined", { "ballast.node_id": node.nodeId });
}

/** Tasks the executor runs that we do not (any more) know as its own: stop them. */
function killUnknownTasks(ctx: Ctx, executor: ExecutorState, runningTaskIds: string[]): void {
  for (const taskId of runningTaskIds) {
    if (executor.running.has(taskId)) continue;
    ctx.out.push({ type: "killTask", executorId: executor.description.executorId, taskId, reason: "task unknown to the scheduler (already resubmitted or ended)" });
  }
}

/**
 * Reconciles what the executor says it runs with what we launched there:
 * killed tasks it no longer lists give their slot back (their report may be
 * lost); live tasks it does not list, launched long enough ago that the
 * launch must have arrived (and not within the grace after a re-registration,
 * when resent final updates are still arriving), are lost and resubmitted.
 */
export function onHeartbeat(ctx: Ctx, executorId: string, runningTaskIds: string[]): void {
  const executor = ctx.state.executors.get(executorId);
  if (!executor?.alive) return;
  executor.lastSeenMs = ctx.now;
  executor.reconnectDeadlineMs = 0;
  if (ctx.now < executor.graceUntilMs) return;
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

/** Heartbeat timeouts and, after a failover, missed reconnect deadlines. */
export function checkHeartbeats(ctx: Ctx): void {
  const timeoutMs = ctx.state.conf["ballast.executor.heartbeatTimeout"];
  for (const executor of ctx.state.executors.values()) {
    if (!executor.alive) continue;
    const executorId = executor.description.executorId;
    let reason: string | undefined;
    if (executor.reconnectDeadlineMs !== 0) {
      if (ctx.now > executor.reconnectDeadlineMs) reason = `did not reconnect after the scheduler failover (epoch ${ctx.state.epoch})`;
    } else if (ctx.now - executor.lastSeenMs > timeoutMs) {
      reason = `no heartbeat for ${ctx.now - executor.lastSeenMs}ms (timeout ${timeoutMs}ms)`;
    }
    if (reason === undefined) continue;
    // Its stream may still look alive (a stopped process): make it re-register.
    ctx.out.push({ type: "closeSession", executorId, reason });
    onExecutorLost(ctx, executorId, reason);
  }
}

export function onExecutorLost(ctx: Ctx, executorId: string, reason: string): void {
  const executor = ctx.state.executors.get(executorId);
  if (!executor?.alive) return;
  executor.alive = false;
  executor.reconnectDeadlineMs = 0;
  executor.lostReason = reason;
  emitEvent(ctx, "", { type: "executorRemoved", executorId, reason });
  const node = nodeOf(ctx.state, executor);
  // The node may be half dead: ask whether its shuffle service still answers.
  if (!node.lost) ctx.out.push({ type: "probeShuffleService", nodeId: node.nodeId, shuffleAddress: executor.description.shuffleAddress });
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

/**
 * A scheduler took over with the replayed state: every executor believed
 * alive gets the reconnect timeout (instead of the heartbeat timeout) to
 * re-register; until then it receives no new tasks.
 */
export function onRecoveryStarted(ctx: Ctx, epoch: number): void {
  ctx.state.epoch = epoch;
  const deadline = ctx.now + ctx.state.conf["ballast.scheduler.recovery.executorReconnectTimeout"];
  for (const executor of ctx.state.executors.values()) {
    if (executor.alive) executor.reconnectDeadlineMs = deadline;
  }
}

export function executorStateOf(state: SchedulerState, executor: ExecutorState): { state: ResourceState; reason: string } {
  if (!executor.alive) return { state: "lost", reason: executor.lostReason };
  const node = nodeStateOf(state, nodeOf(state, executor));
  if (node.state === "lost" || node.state === "decommissioning" || node.state === "decommissioned") return node;
  if (executor.excludedUntilMs !== 0) return { state: "excluded", reason: executor.excludedReason };
  if (node.state === "excluded") return node;
  if (executor.reconnectDeadlineMs !== 0) return { state: "active", reason: "waiting for it to reconnect after a scheduler failover" };
  return { state: "active", reason: "" };
}

export function viewOfExecutor(state: SchedulerState, executor: ExecutorState): ExecutorView {
  const description = executor.description;
  const { state: resourceState, reason } = executorStateOf(state, executor);
  const node = nodeOf(state, executor);
  return {
    ...description,
    alive: executor.alive,
    runningTasks: executor.running.size,
    registeredAtMs: executor.registeredAtMs,
    lostReason: executor.lostReason,
    state: resourceState,
    excludedUntilMs: Math.max(executor.excludedUntilMs, node.excludedUntilMs),
    stateReason: reason,
  };
}

/** The registration's task list is reconciled at once, not kept. */
function withoutTasks(description: ExecutorDescription): ExecutorDescription {
  const { runningTaskIds: _reconciled, ...rest } = description;
  return rest;
}
