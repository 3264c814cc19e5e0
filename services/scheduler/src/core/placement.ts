/**
 * Pure placement reads: which executors a stage attempt may use, which of
 * them has the most room, and whether any slot is free at all.
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

/** The candidate with a free slot and the fewest running tasks (ties by executor id), except `skip`. */
export function leastLoaded(candidates: ExecutorState[], skip?: string): ExecutorState | undefined {
  let best: ExecutorState | undefined;
  for (const executor of candidates) {
    if (executor.running.size >= executor.description.slots || executor.description.executorId === skip) continue;
    if (!best || executor.running.size < best.running.size ||
      (executor.running.size === best.running.size && executor.description.executorId < best.description.executorId)) {
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
