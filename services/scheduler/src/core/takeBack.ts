/**
 * Take-back of queued tasks. An executor accepts tasks beyond its slots and
 * queues them (`--queue`), so short tasks do not wait a scheduler round trip
 * each; but a queue fills the executors that are there first. When placement
 * leaves an executor with room and no pending task fits it, the newest task of
 * the most loaded executor is taken back: killed there (the executor drops it
 * from its queue; its slot stays taken until it reports) and its partition
 * requeued, not counted as a failure, so placement puts it on the executor
 * with room. Only tasks the executor has surely not started are taken back
 * (its registration says how many of its slots are queue). Should one have
 * started anyway, the kill ends it: an abandoned task never commits (it is
 * denied) and its partition runs again, so it still commits at most once.
 */
import { cachedLocationsFor } from "./cache.js";
import { isUsable } from "./clusterQueries.js";
import type { Ctx } from "./context.js";
import { isExcludedFor, isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, leastLoaded } from "./placement.js";
import { activeAttempt, type ExecutorState, type LiveTask, type SchedulerState } from "./state.js";
import { scopeOf } from "./taskQueries.js";
import { abandonTask, resubmitTask } from "./tasks.js";

/**
 * Takes back every queued task of a settled executor that may not start it: one on a
 * node being decommissioned (its queue would hold up the drain) or one the
 * task's job now excludes. They are requeued, to run where placement finds room.
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
      takeBack(ctx, task, `taken back from executor ${executor.description.executorId} (queued), which may not start it`);
      taken = true;
    }
  }
  return taken;
}

/** Takes back one task for the least loaded usable executor with room; false when none is worth moving. */
export function takeBackOneTask(ctx: Ctx): boolean {
  const { state } = ctx;
  const usable = [...state.executors.values()].filter((executor) => isUsable(state, executor));
  const idle = leastLoaded(usable);
  if (!idle) return false;
  // Moving from an executor one task ahead would only swap which one is ahead.
  const enough = idle.running.size + 2;
  for (const donor of byLoadDescending(state, enough)) {
    const task = queuedTasksOf(state, donor).find((candidate) => isMovable(state, candidate, donor, idle));
    if (!task) continue;
    takeBack(ctx, task, `taken back from executor ${donor.description.executorId} (queued) for executor ${idle.description.executorId}, which has room`);
    return true;
  }
  return false;
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

function liveTasksOf(state: SchedulerState, executor: ExecutorState): LiveTask[] {
  const live: LiveTask[] = [];
  for (const taskId of executor.running) {
    const task = state.tasks.get(taskId);
    if (task && !task.abandoned) live.push(task);
  }
  return live;
}

/**
 * The live tasks surely queued on the executor, newest first: it starts tasks
 * in launch order, so of those it holds (taken-back ones too, until it reports
 * them), all but its worker slots' worth are waiting, and they are the newest.
 */
function queuedTasksOf(state: SchedulerState, executor: ExecutorState): LiveTask[] {
  const queuedSlots = executor.description.queuedSlots ?? 0;
  const queued = Math.min(queuedSlots, executor.running.size - (executor.description.slots - queuedSlots));
  const held = [...executor.running];
  const tasks: LiveTask[] = [];
  for (let i = held.length - 1; i >= held.length - queued; i--) {
    const task = state.tasks.get(held[i]!);
    if (task && !task.abandoned) tasks.push(task);
  }
  return tasks;
}

/** The job's tasksLaunched counts tasks given a chance to run: one taken back from a queue was not. */
function takeBack(ctx: Ctx, task: LiveTask, reason: string): void {
  const scope = scopeOf(ctx.state, task);
  abandonTask(ctx, task, reason);
  scope.job.stats.tasksLaunched--;
  resubmitTask(ctx, scope, reason);
}

/**
 * Only a plain first try of a running stage attempt is taken back: not a
 * speculative race, not a retry (retries have placement preferences of their
 * own), not one holding a commit, not one placed for a cached partition on its executor.
 */
function isPlainRun(state: SchedulerState, task: LiveTask, holder: ExecutorState): boolean {
  const { job, stage, attempt } = scopeOf(state, task);
  if (attempt.status !== "running" || activeAttempt(stage) !== attempt) return false;
  const run = attempt.runs.get(task.partition);
  if (!run || run.state !== "running" || run.racing || run.failures > 0 || run.losses > 0) return false;
  if (job.commitAuth.size > 0 && [...job.commitAuth.values()].includes(task.taskId)) return false;
  return !cachedLocationsFor(state, job, stage, task.partition).some((location) => location.memoryExecutorId === holder.description.executorId);
}

/** A plain run that placement would put on `idle` once requeued. */
function isMovable(state: SchedulerState, task: LiveTask, donor: ExecutorState, idle: ExecutorState): boolean {
  if (!isPlainRun(state, task, donor)) return false;
  const { job, attempt } = scopeOf(state, task);
  return !isTaskExcluded(job, attempt.runs.get(task.partition)!, idle) && allowedExecutors(state, job, attempt).includes(idle);
}
