/**
 * Pure reads about tasks: the job, stage and attempt a task belongs to, the
 * other attempt of its speculative race, and whether a fetch failure names
 * the output still registered.
 */
import type { JobState, LiveTask, SchedulerState, ShuffleState, StageAttempt, StageState } from "./state.js";
import type { FetchFailure } from "./types.js";

export interface TaskScope {
  job: JobState;
  stage: StageState;
  attempt: StageAttempt;
  task: LiveTask;
}

export function scopeOf(state: SchedulerState, task: LiveTask): TaskScope {
  const job = state.jobs.get(task.jobId)!;
  const stage = job.stages[task.stageId]!;
  return { job, stage, attempt: stage.attempts[task.stageAttempt]!, task };
}

/** The other attempt of the task's race, if it is still live (not ended, not abandoned). */
export function liveRacer(state: SchedulerState, scope: TaskScope): LiveTask | undefined {
  const racing = scope.attempt.runs.get(scope.task.partition)?.racing;
  if (!racing) return undefined;
  const otherId = racing[0] === scope.task.taskId ? racing[1] : racing[1] === scope.task.taskId ? racing[0] : undefined;
  const other = otherId === undefined ? undefined : state.tasks.get(otherId);
  return other && !other.abandoned ? other : undefined;
}

export function shuffleById(job: JobState, shuffleId: string): ShuffleState | undefined {
  return job.shuffles.find((candidate) => candidate?.shuffleId === shuffleId);
}

/** The output the failure names is still the registered one. */
export function isStillRegistered(job: JobState, fetch: FetchFailure): boolean {
  const status = shuffleById(job, fetch.shuffleId)?.outputs[fetch.mapIndex];
  return status !== undefined && status.attempt === fetch.mapAttempt && status.shuffleAddress === fetch.shuffleAddress;
}
