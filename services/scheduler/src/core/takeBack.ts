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
import { memoryHoldersFor } from "./cache.js";
import { isUsable } from "./clusterQueries.js";
import type { Ctx } from "./context.js";
import { isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, leastLoaded } from "./placement.js";
import { activeAttempt, type ExecutorState, type LiveTask, type SchedulerState } from "./state.js";
import { scopeOf } from "./taskQueries.js";
import { abandonTask, resubmitTask } from "./tasks.js";

/** Takes back one task for the least loaded usable executor with room; false when none is worth moving. */
export function takeBackOneTask(ctx: Ctx): boolean {
  const { state } = ctx;
  const usable = [...state.executors.values()].filter((executor) => isUsable(state, executor));
  const idle = leastLoaded(usable);
  if (!idle) return false;
  // Moving from an executor one task ahead would only swap which one is ahead.
  const enough = idle.running.size + 2;
  for (const donor of byLoadDescending(state, enough)) {
    const task = newestMovable(state, donor, idle);
    if (!task) continue;
    const reason = `taken back from executor ${donor.description.executorId} (queued) for executor ${idle.description.executorId}, which has room`;
    abandonTask(ctx, task, reason);
    resubmitTask(ctx, scopeOf(state, task), reason);
    return true;
  }
  return false;
}

/** Alive executors holding at least `atLeast` live tasks, most first (ties by executor id, as placement). */
function byLoadDescending(state: SchedulerState, atLeast: number): ExecutorState[] {
  const loads = new Map<ExecutorState, number>();
  for (const executor of state.executors.values()) {
    if (!executor.alive || executor.running.size < atLeast) continue;
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
 * The donor's newest task that placement would put on `idle` once requeued,
 * among those surely queued there: it starts tasks in launch order, so of the
 * tasks it holds (taken-back ones too, until it reports them), all but its
 * worker slots' worth are waiting, and they are the newest.
 */
function newestMovable(state: SchedulerState, donor: ExecutorState, idle: ExecutorState): LiveTask | undefined {
  const queued = Math.min(donor.description.queuedSlots ?? 0, donor.running.size - (donor.description.slots - (donor.description.queuedSlots ?? 0)));
  const held = [...donor.running];
  for (let i = held.length - 1; i >= held.length - queued; i--) {
    const task = state.tasks.get(held[i]!);
    if (task && !task.abandoned && isMovable(state, task, donor, idle)) return task;
  }
  return undefined;
}

/**
 * Only a plain first try of a running stage attempt moves: not a speculative
 * race, not a retry (retries have placement preferences of their own), not
 * one holding a commit, not one placed for a cached partition on its executor,
 * and only where the job may run it.
 */
function isMovable(state: SchedulerState, task: LiveTask, donor: ExecutorState, idle: ExecutorState): boolean {
  const { job, stage, attempt } = scopeOf(state, task);
  if (attempt.status !== "running" || activeAttempt(stage) !== attempt) return false;
  const run = attempt.runs.get(task.partition);
  if (!run || run.state !== "running" || run.racing || run.failures > 0 || run.losses > 0) return false;
  if (job.commitAuth.size > 0 && [...job.commitAuth.values()].includes(task.taskId)) return false;
  if (isTaskExcluded(job, run, idle)) return false;
  if (memoryHoldersFor(state, job, stage, task.partition).includes(donor.description.executorId)) return false;
  return allowedExecutors(state, job, attempt).includes(idle);
}
