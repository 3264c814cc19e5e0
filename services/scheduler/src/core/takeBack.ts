/**
 * Take-back of queued tasks. An executor accepts tasks beyond its slots and
 * queues them (`--queue`), so short tasks do not wait a scheduler round trip
 * each; but a queue fills the executors that are there first. When placement
 * leaves an executor with room and no pending task fits it, the newest task of
 * the most loaded executor is asked back, in two phases: a revokeTask command
 * marks it revoking (it still holds its slot, and counts as on its way to the
 * executor with room, so no second task is asked back for that room), and the
 * executor answers. "Revoked": it was still queued and was dropped, never
 * started; its slot is freed and its partition requeued, not counted as a
 * failure, so placement puts it where there is room. "Started": the scheduler's
 * view was stale (the executor started it, or even finished it, before the
 * revoke arrived); it runs on and is never asked back again, and nothing ran twice.
 * A lost executor's revoking tasks are resubmitted like its others; a
 * re-registration (after a failover the answer may never come) drops the marks.
 */
import { cachedLocationsFor } from "./cache.js";
import { isUsable } from "./clusterQueries.js";
import type { Ctx } from "./context.js";
import { isExcludedFor, isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, leastLoaded } from "./placement.js";
import { activeAttempt, type ExecutorState, type LiveTask, type SchedulerState } from "./state.js";
import { releaseCommit } from "./commits.js";
import { scopeOf } from "./taskQueries.js";
import { releaseSlot, reportTaskEnd, resubmitTask, retire } from "./tasks.js";
import type { Input } from "./types.js";

/**
 * Asks back every queued task of a settled executor that may not start it: one on a
 * node being decommissioned (its queue would hold up the drain) or one the
 * task's job now excludes. Once revoked they are requeued, to run where placement finds room.
 */
export function takeBackFromUnusable(ctx: Ctx): boolean {
  const { state } = ctx;
  let taken = false;
  for (const executor of state.executors.values()) {
    if (!isSettled(state, executor) || !executor.description.queuedSlots) continue;
    const leaving = state.nodes.get(executor.description.nodeId)!.decommission !== undefined;
    for (const task of queuedTasksOf(state, executor)) {
      const { job, attempt } = scopeOf(state, task);
      if (!leaving && !isExcludedFor(state, job, attempt, executor)) continue;
      if (!isPlainRun(state, task, executor)) continue;
      revoke(ctx, task, "", `taken back from executor ${executor.description.executorId} (queued), which may not start it`);
      taken = true;
    }
  }
  return taken;
}

/** Asks back one task for the least loaded usable executor with room to spare; false when none is worth moving. */
export function takeBackOneTask(ctx: Ctx): boolean {
  const { state } = ctx;
  const incoming = incomingByExecutor(state);
  const load = (executor: ExecutorState) => executor.running.size + (incoming.get(executor.description.executorId) ?? 0);
  // The usable executor with a slot that no revoking task is meant for.
  const idle = leastLoaded([...state.executors.values()].filter((executor) => isUsable(state, executor)), { load });
  if (!idle) return false;
  // Moving from an executor one task ahead would only swap which one is ahead.
  const enough = load(idle) + 2;
  for (const donor of byLoadDescending(state, enough)) {
    const task = queuedTasksOf(state, donor).find((candidate) => isMovable(state, candidate, donor, idle));
    if (!task) continue;
    const idleId = idle.description.executorId;
    revoke(ctx, task, idleId, `taken back from executor ${donor.description.executorId} (queued) for executor ${idleId}, which has room`);
    return true;
  }
  return false;
}

/** How many revoking tasks are meant for each executor: room they will fill once revoked. */
function incomingByExecutor(state: SchedulerState): Map<string, number> {
  const incoming = new Map<string, number>();
  for (const task of state.tasks.values()) {
    if (task.revokingFor) incoming.set(task.revokingFor, (incoming.get(task.revokingFor) ?? 0) + 1);
  }
  return incoming;
}

/**
 * Alive, not awaiting its reconnection after a scheduler failover, and past the grace
 * after its registration in which its resent final updates arrive: until then some of
 * the tasks it is thought to hold may have run to the end, so none is surely queued.
 */
const isSettled = (state: SchedulerState, executor: ExecutorState): boolean =>
  // Heard from after the grace (an input, not the clock: a tick before nextDueMs must change nothing).
  executor.alive && executor.reconnectDeadlineMs === 0 && executor.lastSeenMs >= executor.graceUntilMs;

/** Settled executors holding at least `atLeast` live tasks, most first (ties by executor id, as placement). */
function byLoadDescending(state: SchedulerState, atLeast: number): ExecutorState[] {
  const loads = new Map<ExecutorState, number>();
  for (const executor of state.executors.values()) {
    if (!isSettled(state, executor) || executor.running.size < atLeast) continue;
    const live = liveTasksOf(state, executor).length;
    if (live >= atLeast) loads.set(executor, live);
  }
  return [...loads.keys()].sort((a, b) => loads.get(b)! - loads.get(a)! || (a.description.executorId < b.description.executorId ? -1 : 1));
}

/** Its live tasks but those on their way out (revoking). */
function liveTasksOf(state: SchedulerState, executor: ExecutorState): LiveTask[] {
  const live: LiveTask[] = [];
  for (const taskId of executor.running) {
    const task = state.tasks.get(taskId);
    if (task && !task.abandoned && task.revokingFor === undefined) live.push(task);
  }
  return live;
}

/**
 * The live tasks thought queued on the executor and not being revoked, newest first: it
 * starts tasks in launch order, so of those it holds (abandoned and revoking ones too, until
 * it reports them), all but its worker slots' worth are waiting, and they are the newest;
 * one it answered "started" shows that it and every older one started.
 */
function queuedTasksOf(state: SchedulerState, executor: ExecutorState): LiveTask[] {
  const queuedSlots = executor.description.queuedSlots ?? 0;
  const queued = Math.min(queuedSlots, executor.running.size - (executor.description.slots - queuedSlots));
  const held = [...executor.running];
  const tasks: LiveTask[] = [];
  for (let i = held.length - 1; i >= held.length - queued; i--) {
    const task = state.tasks.get(held[i]!);
    if (task?.started) break;
    if (task && !task.abandoned && task.revokingFor === undefined) tasks.push(task);
  }
  return tasks;
}

/** Phase one: the task stays held (and live) on its executor until the executor answers. */
function revoke(ctx: Ctx, task: LiveTask, forExecutorId: string, reason: string): void {
  task.revokingFor = forExecutorId;
  ctx.out.push({ type: "revokeTask", executorId: task.executorId, taskId: task.taskId, reason });
}

/** Phase two: the executor's answers. Tasks it does not hold (any more) are left alone. */
export function onRevokeAnswered(ctx: Ctx, input: Extract<Input, { type: "revokeAnswered" }>): void {
  for (const taskId of input.revokedTaskIds) {
    const task = ctx.state.tasks.get(taskId);
    if (task?.executorId === input.executorId) takeBackRevoked(ctx, task);
  }
  for (const taskId of input.startedTaskIds) {
    const task = ctx.state.tasks.get(taskId);
    if (task?.executorId !== input.executorId) continue;
    task.revokingFor = undefined;
    task.started = true;
  }
}

/**
 * The executor dropped the task unstarted and will never report it: its slot is free and its
 * partition requeued. The job's tasksLaunched counts tasks given a chance to run: this one was not.
 */
function takeBackRevoked(ctx: Ctx, task: LiveTask): void {
  releaseSlot(ctx.state, task);
  if (task.abandoned) return; // ended for the job already (killed by us); only its slot was held
  const scope = scopeOf(ctx.state, task);
  const reason = `taken back from executor ${task.executorId}'s queue (revoked before it started)`;
  retire(scope);
  reportTaskEnd(ctx, task, "killed", { kind: "killed", message: reason, stack: "" });
  releaseCommit(scope);
  scope.job.stats.tasksLaunched--;
  // Its launch counted it as a recomputation when the partition had succeeded before; its relaunch will again.
  if (scope.stage.everSucceeded[task.partition]) scope.job.stats.recomputedTasks--;
  resubmitTask(ctx, scope, reason);
}

/** A re-registration lists what the executor holds: an unanswered revoke's answer may never come (a failover), so its mark goes. */
export function dropRevokeMarks(state: SchedulerState, executor: ExecutorState): void {
  for (const taskId of executor.running) {
    const task = state.tasks.get(taskId);
    if (task) task.revokingFor = undefined;
  }
}

/**
 * Only a plain run of a running stage attempt is taken back: not a speculative
 * race, not a retry after a failure (retries have placement preferences of their
 * own), not one holding a commit, not one placed for a cached partition on its executor.
 * A run resubmitted because its executor was lost is plain: else the work of a lost node,
 * queued on the survivors, would stay there when the node comes back.
 */
function isPlainRun(state: SchedulerState, task: LiveTask, holder: ExecutorState): boolean {
  const { job, stage, attempt } = scopeOf(state, task);
  if (attempt.status !== "running" || activeAttempt(stage) !== attempt) return false;
  const run = attempt.runs.get(task.partition);
  if (!run || run.state !== "running" || run.racing || run.failures > 0) return false;
  if (job.commitAuth.size > 0 && [...job.commitAuth.values()].includes(task.taskId)) return false;
  return !cachedLocationsFor(state, job, stage, task.partition).some((location) => location.memoryExecutorId === holder.description.executorId);
}

/** A plain run that placement would put on `idle` once requeued. */
function isMovable(state: SchedulerState, task: LiveTask, donor: ExecutorState, idle: ExecutorState): boolean {
  if (!isPlainRun(state, task, donor)) return false;
  const { job, attempt } = scopeOf(state, task);
  return !isTaskExcluded(job, attempt.runs.get(task.partition)!, idle) && allowedExecutors(state, job, attempt).includes(idle);
}
