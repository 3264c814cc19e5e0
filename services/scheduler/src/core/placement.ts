/**
 * Pure placement reads: which executors a stage attempt may use, how many of
 * its tasks each may hold, which of them has the most room, and whether any
 * slot is free at all.
 */
import { isUsable } from "./clusterQueries.js";
import { isExcludedFor } from "./exclusionRules.js";
import type { ExecutorState, JobState, SchedulerState, StageAttempt } from "./state.js";

/** Usable executors (alive, on an active node) the attempt is not excluded from, free or not. */
export function allowedExecutors(state: SchedulerState, job: JobState, attempt: StageAttempt): ExecutorState[] {
  const allowed: ExecutorState[] = [];
  for (const executor of state.executors.values()) {
    if (isUsable(state, executor) && !isExcludedFor(state, job, attempt, executor)) allowed.push(executor);
  }
  return allowed;
}

/** How many tasks an executor holds, or may hold. */
export type ExecutorCount = (executor: ExecutorState) => number;

const runningCount: ExecutorCount = (executor) => executor.running.size;
const allSlots: ExecutorCount = (executor) => executor.description.slots;

/** Successes of an attempt its mean task time is taken over: the stage's current pace, cheap to recompute per placement pass. */
const RECENT_SUCCESSES = 16;

/**
 * How many of an attempt's tasks an executor may hold: its worker slots, and queued beyond
 * them (up to the executor's queue) as many per slot as make up `ballast.scheduler.queuedWork`
 * of the attempt's mean task time, at least one. Short tasks fill deep queues, so launches and
 * updates go in large batches; a long task queues one per slot, enough to hide the round trip
 * and let the next task fetch its input while this one computes, and it delays another job's
 * tasks by at most one task per slot.
 */
export function attemptCapacity(job: JobState, attempt: StageAttempt): ExecutorCount {
  const perSlot = queuedPerSlot(job.conf["ballast.scheduler.queuedWork"], attempt.successDurations);
  return (executor) => {
    const queuedSlots = executor.description.queuedSlots ?? 0;
    const workerSlots = executor.description.slots - queuedSlots;
    return workerSlots + Math.min(queuedSlots, workerSlots * perSlot);
  };
}

function queuedPerSlot(queuedWorkMs: number, durations: number[]): number {
  const from = Math.max(0, durations.length - RECENT_SUCCESSES);
  if (from === durations.length) return 1; // no pace yet
  let totalMs = 0;
  for (let i = from; i < durations.length; i++) totalMs += durations[i]!;
  const meanMs = Math.max(1, totalMs / (durations.length - from)); // an empty task reports 0 ms
  return Math.max(1, Math.floor(queuedWorkMs / meanMs));
}

/**
 * The candidate with room and the fewest tasks (ties by executor id), except `skip`.
 * `load` counts an executor's tasks: those it runs, unless the caller counts more (take-back
 * adds the tasks on their way there); `capacity` how many it may hold: all its slots, unless
 * the caller allows fewer (an attempt's, attemptCapacity).
 */
export function leastLoaded(candidates: ExecutorState[], { skip, load = runningCount, capacity = allSlots }: { skip?: string; load?: ExecutorCount; capacity?: ExecutorCount } = {}): ExecutorState | undefined {
  let best: ExecutorState | undefined;
  for (const executor of candidates) {
    if (load(executor) >= capacity(executor) || executor.description.executorId === skip) continue;
    if (!best || load(executor) < load(best) ||
      (load(executor) === load(best) && executor.description.executorId < best.description.executorId)) {
      best = executor;
    }
  }
  return best;
}

export function hasFreeSlot(state: SchedulerState): boolean {
  for (const executor of state.executors.values()) {
    if (executor.running.size < executor.description.slots && isUsable(state, executor)) return true;
  }
  return false;
}
