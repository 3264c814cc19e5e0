/**
 * Pure rules of speculative copies off decommissioning nodes (the launches
 * are in speculation.ts). A task running on a node being decommissioned
 * that is not expected to finish before the node's deadline gets one copy.
 *
 * Expected finish: launch time + the median duration of the tasks of the
 * stage attempt that already succeeded. Without any success yet, or once the
 * task has outlived that median, the time it has run so far is the lower
 * bound of what it still needs (expected finish = now + elapsed), so it is
 * copied only when the deadline is closer than that. Once the deadline is
 * reached the node is decommissioned and its tasks are no longer raced.
 */
import { aliveExecutorsOf } from "./clusterQueries.js";
import { neededParentsComplete } from "./cachedStages.js";
import { hasOutput, type LiveTask, type NodeState, type SchedulerState, type StageAttempt } from "./state.js";
import { liveRacer, scopeOf, type TaskScope } from "./taskQueries.js";

/** Live tasks on decommissioning nodes that may still get a copy, with the time their copy is due. */
export function forEachCandidate(state: SchedulerState, visit: (scope: TaskScope, node: NodeState, dueMs: number) => void): void {
  for (const nodeId of state.decommissioning) {
    const node = state.nodes.get(nodeId)!;
    const deadlineMs = node.decommission!.deadlineMs;
    if (state.nowMs >= deadlineMs) continue; // expires in this step: too late to race it
    for (const executor of aliveExecutorsOf(state, node)) {
      for (const taskId of executor.running) {
        const task = state.tasks.get(taskId)!;
        if (task.abandoned) continue;
        const scope = scopeOf(state, task);
        if (!mayCopy(state, scope)) continue;
        const dueMs = copyDueMs(task, medianDuration(scope.attempt), deadlineMs);
        if (dueMs < deadlineMs) visit(scope, node, dueMs);
      }
    }
  }
}

/** Per decommissioning node, when its next copy becomes due (copies already due wait for capacity, not time). */
export function nextCopyDueByNode(state: SchedulerState): Map<string, number> {
  const due = new Map<string, number>();
  forEachCandidate(state, (_scope, node, dueMs) => {
    if (dueMs > state.nowMs) due.set(node.nodeId, Math.min(due.get(node.nodeId) ?? Infinity, dueMs));
  });
  return due;
}

/** Running in a live attempt whose inputs are complete, without output and not already racing. */
export function mayCopy(state: SchedulerState, scope: TaskScope): boolean {
  const { job, stage, attempt, task } = scope;
  if (job.status !== "running" || attempt.status !== "running" || !neededParentsComplete(state, job, stage)) return false;
  return attempt.runs.get(task.partition)?.state === "running" && !liveRacer(state, scope) && !hasOutput(job, stage, task.partition);
}

/**
 * The expected finish at time t is launch + median while that is still
 * ahead, else t + elapsed = 2t - launch; the copy is due from the first t
 * at which it is not before the deadline (-Infinity: due at once).
 */
function copyDueMs(task: LiveTask, medianMs: number | undefined, deadlineMs: number): number {
  const halfway = (deadlineMs + task.launchedAtMs) / 2; // from here on, 2t - launch >= deadline
  if (medianMs === undefined) return halfway;
  const medianEnd = task.launchedAtMs + medianMs;
  return medianEnd >= deadlineMs ? -Infinity : Math.max(medianEnd, halfway);
}

export function expectedFinishMs(task: LiveTask, medianMs: number | undefined, now: number): number {
  if (medianMs !== undefined && task.launchedAtMs + medianMs > now) return task.launchedAtMs + medianMs;
  return now + (now - task.launchedAtMs);
}

/**
 * The lower median of the attempt's successful task durations (undefined
 * without any). Memoized by sample count outside the state: a pure function
 * of it, so replay and snapshots are unaffected.
 */
const medians = new WeakMap<StageAttempt, { count: number; medianMs: number | undefined }>();

export function medianDuration(attempt: StageAttempt): number | undefined {
  const values = attempt.successDurations;
  const cached = medians.get(attempt);
  if (cached?.count === values.length) return cached.medianMs;
  const sorted = values.slice().sort((a, b) => a - b);
  const medianMs = sorted.length === 0 ? undefined : sorted[(sorted.length - 1) >> 1];
  medians.set(attempt, { count: values.length, medianMs });
  return medianMs;
}
