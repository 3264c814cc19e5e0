/**
 * Pure rules of speculative copies of slow tasks, as Spark's
 * spark.speculation (the launches are in speculation.ts). Once `quantile`
 * of a stage attempt's tasks have succeeded, a running task whose runtime
 * exceeds max(multiplier x their median duration, minTaskRuntime) gets one
 * copy. The threshold only moves when a task succeeds (an input), so the
 * time a running task crosses it is known in advance: it is a timer, not
 * a polling interval, and replay stays exact.
 */
import type { JobState, SchedulerState, StageAttempt } from "./state.js";
import { mayCopy, medianDuration } from "./speculationRules.js";
import { scopeOf, type TaskScope } from "./taskQueries.js";
import { stageTimerKey } from "./timers.js";

export interface StragglerCheck {
  /** Runtime a task must exceed to be copied. */
  thresholdMs: number;
  medianMs: number;
  finished: number;
}

/** The attempt's threshold, or undefined while fewer than `quantile` of its tasks have succeeded. */
export function stragglerCheck(job: JobState, attempt: StageAttempt): StragglerCheck | undefined {
  const finished = attempt.successDurations.length;
  const needed = Math.max(1, Math.floor(job.conf["ballast.speculation.quantile"] * attempt.partitions.length));
  if (finished < needed) return undefined;
  const medianMs = medianDuration(attempt)!;
  const thresholdMs = Math.max(job.conf["ballast.speculation.multiplier"] * medianMs, job.conf["ballast.speculation.minTaskRuntime"]);
  return { thresholdMs, medianMs, finished };
}

/**
 * Live tasks of jobs with speculation enabled that may still get a copy,
 * with the first integer time their runtime exceeds the threshold (the
 * copy is due from then on).
 */
export function forEachStraggler(state: SchedulerState, visit: (scope: TaskScope, dueMs: number, check: StragglerCheck) => void): void {
  for (const jobId of state.runningJobs) {
    const job = state.jobs.get(jobId)!;
    if (!job.conf["ballast.speculation.enabled"]) continue;
    for (const taskId of job.liveTasks) {
      const scope = scopeOf(state, state.tasks.get(taskId)!);
      const check = stragglerCheck(job, scope.attempt);
      if (check === undefined || !mayCopy(state, scope)) continue;
      visit(scope, Math.floor(scope.task.launchedAtMs + check.thresholdMs) + 1, check);
    }
  }
}

/** Per stage ("<jobId>/<stageId>"), when its next slow task crosses the threshold (copies already due wait for capacity, not time). */
export function nextStragglerDueByStage(state: SchedulerState): Map<string, number> {
  const due = new Map<string, number>();
  forEachStraggler(state, ({ job, stage }, dueMs) => {
    const key = stageTimerKey(job.jobId, stage.stageId);
    if (dueMs > state.nowMs) due.set(key, Math.min(due.get(key) ?? Infinity, dueMs));
  });
  return due;
}
