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

const runningCount = (executor: ExecutorState): number => executor.running.size;

/**
 * The candidate with a free slot and the fewest tasks (ties by executor id), except `skip`.
 * `load` counts an executor's tasks: those it runs, unless the caller counts more (take-back adds the tasks on their way there).
 */
export function leastLoaded(candidates: ExecutorState[], skip?: string, load: (executor: ExecutorState) => number = runningCount): ExecutorState | undefined {
  let best: ExecutorState | undefined;
  for (const executor of candidates) {
    if (load(executor) >= executor.description.slots || executor.description.executorId === skip) continue;
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
