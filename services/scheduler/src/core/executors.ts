/**
 * Executor membership: registration (and revival), heartbeats, loss by
 * report, heartbeat timeout or missed reconnect after a failover. Each alive
 * executor has one heartbeat timer (its timeout, or its reconnect deadline
 * after a failover). A lost executor's tasks are returned to the caller to
 * resubmit; its map outputs stay registered (they live in the node's shuffle
 * service), unless the probe the loss triggers finds the service gone too.
 */
import { nodeOf, viewOfExecutor } from "./clusterQueries.js";
import { emitEvent, raise, type Ctx } from "./context.js";
import { awaitProbeVerdict } from "./nodes.js";
import type { ExecutorState, SchedulerState } from "./state.js";
import { dropRevokeMarks } from "./takeBack.js";
import { clearTimer, setTimer } from "./timers.js";
import type { ExecutorDescription } from "./types.js";

/** Lost once strictly past the deadline: the timer is due 1ms after it. */
function armHeartbeat(state: SchedulerState, executor: ExecutorState): void {
  const executorId = executor.description.executorId;
  if (!executor.alive) return clearTimer(state, "heartbeat", executorId);
  const deadline = executor.reconnectDeadlineMs !== 0
    ? executor.reconnectDeadlineMs
    : executor.lastSeenMs + state.conf["ballast.executor.heartbeatTimeout"];
  setTimer(state, "heartbeat", executorId, deadline + 1);
}

/** Its node is registered (and revived) first by the caller. */
export function registerExecutor(ctx: Ctx, description: ExecutorDescription): void {
  const { state } = ctx;
  const known = state.executors.get(description.executorId);
  if (known?.alive) {
    // A reconnect (after a failover or a broken stream): it keeps its tasks.
    known.description = withoutTasks(description);
    known.lastSeenMs = ctx.now;
    known.reconnectDeadlineMs = 0;
    known.graceUntilMs = ctx.now + 2 * state.conf["ballast.executor.heartbeatInterval"];
    armHeartbeat(state, known);
    dropRevokeMarks(state, known);
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
    // An executor revived under the same id keeps its exclusion record (and its expiry timer).
    excludedUntilMs: known?.excludedUntilMs ?? 0,
    excludedReason: known?.excludedReason ?? "",
    failureTimes: known?.failureTimes ?? [],
    reconnectDeadlineMs: 0,
    graceUntilMs: 0,
  };
  state.executors.set(description.executorId, executor);
  armHeartbeat(state, executor);
  emitEvent(ctx, "", { type: "executorAdded", executor: viewOfExecutor(state, executor) });
  killUnknownTasks(ctx, executor, description.runningTaskIds ?? []);
}

/** Tasks the executor runs that we do not (any more) know as its own: stop them. */
function killUnknownTasks(ctx: Ctx, executor: ExecutorState, runningTaskIds: string[]): void {
  for (const taskId of runningTaskIds) {
    if (executor.running.has(taskId)) continue;
    ctx.out.push({ type: "killTask", executorId: executor.description.executorId, taskId, reason: "task unknown to the scheduler (already resubmitted or ended)" });
  }
}

/** Any message from the executor shows it alive. */
export function touchExecutor(ctx: Ctx, executorId: string): void {
  const executor = ctx.state.executors.get(executorId);
  if (!executor?.alive) return;
  executor.lastSeenMs = ctx.now;
  armHeartbeat(ctx.state, executor);
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
  armHeartbeat(ctx.state, executor);
  if (ctx.now < executor.graceUntilMs) return;
  const reported = new Set(runningTaskIds);
  const graceMs = 2 * ctx.state.conf["ballast.executor.heartbeatInterval"];
  for (const taskId of executor.running) {
    const task = ctx.state.tasks.get(taskId)!;
    if (reported.has(taskId)) continue;
    if (task.abandoned || ctx.now - task.launchedAtMs >= graceMs) {
      raise(ctx, { kind: "taskVanished", taskId, reason: `executor ${executorId} no longer runs task ${taskId}` });
    }
  }
}

/** Why the executor's heartbeat timer fired. */
export function expiryReason(ctx: Ctx, executor: ExecutorState): string {
  if (executor.reconnectDeadlineMs !== 0) return `did not reconnect after the scheduler failover (epoch ${ctx.state.epoch})`;
  const timeoutMs = ctx.state.conf["ballast.executor.heartbeatTimeout"];
  return `no heartbeat for ${ctx.now - executor.lastSeenMs}ms (timeout ${timeoutMs}ms)`;
}

/** Marks the executor lost; returns the ids of the tasks it held (for the caller to resubmit), [] if it was not alive. */
export function markLost(ctx: Ctx, executorId: string, reason: string): string[] {
  const executor = ctx.state.executors.get(executorId);
  if (!executor?.alive) return [];
  executor.alive = false;
  executor.reconnectDeadlineMs = 0;
  executor.lostReason = reason;
  armHeartbeat(ctx.state, executor);
  emitEvent(ctx, "", { type: "executorRemoved", executorId, reason });
  const node = nodeOf(ctx.state, executor);
  // The node may be half dead: ask whether its shuffle service still answers.
  if (!node.lost) {
    ctx.out.push({ type: "probeShuffleService", nodeId: node.nodeId, shuffleAddress: executor.description.shuffleAddress });
    awaitProbeVerdict(node, ctx.now);
  }
  return [...executor.running];
}

/**
 * A scheduler took over with the replayed state: every executor believed
 * alive gets the reconnect timeout (instead of the heartbeat timeout) to
 * re-register; until then it receives no new tasks.
 */
export function awaitReconnect(ctx: Ctx): void {
  const deadline = ctx.now + ctx.state.conf["ballast.scheduler.recovery.executorReconnectTimeout"];
  for (const executor of ctx.state.executors.values()) {
    if (!executor.alive) continue;
    executor.reconnectDeadlineMs = deadline;
    armHeartbeat(ctx.state, executor);
  }
}

/** The registration's task list is reconciled at once, not kept. */
/** What a registration reports (its tasks, its cached partitions) is reconciled, not kept. */
function withoutTasks(description: ExecutorDescription): ExecutorDescription {
  const { runningTaskIds: _reconciled, cachedPartitions: _memoryReconciled, cachedOnDisk: _diskReconciled, ...rest } = description;
  return rest;
}
