/**
 * Read-only views of the state, for the shell's RPCs and watchers.
 */
import { viewOfExecutor } from "./executors.js";
import { outputsAvailable, type JobState, type SchedulerState, type StageState } from "./state.js";
import type { ExecutorView, JobView, StageView } from "./types.js";

export function jobView(state: SchedulerState, jobId: string): JobView | undefined {
  const job = state.jobs.get(jobId);
  return job && viewOfJob(state, job);
}

/** All jobs in submission order. */
export function listJobs(state: SchedulerState): JobView[] {
  return [...state.jobs.values()].map((job) => viewOfJob(state, job));
}

export function executorViews(state: SchedulerState): ExecutorView[] {
  return [...state.executors.values()].map(viewOfExecutor);
}

/** Task ids that are live (launched, not ended) on an executor, for the shell's bookkeeping. */
export function runningTaskIds(state: SchedulerState, executorId: string): string[] {
  return [...(state.executors.get(executorId)?.running ?? [])];
}

function viewOfJob(state: SchedulerState, job: JobState): JobView {
  const wallTimeMs = job.status === "running" ? Math.max(0, state.nowMs - job.submittedAtMs) : job.stats.wallTimeMs;
  const view: JobView = {
    jobId: job.jobId,
    name: job.name,
    status: job.status,
    submittedAtMs: job.submittedAtMs,
    finishedAtMs: job.finishedAtMs,
    stages: job.stages.map((stage) => viewOfStage(job, stage)),
    stats: { ...job.stats, wallTimeMs },
  };
  if (job.error) view.error = { ...job.error };
  if (job.result) view.result = job.result;
  return view;
}

function viewOfStage(job: JobState, stage: StageState): StageView {
  return {
    stageId: stage.stageId,
    attempt: Math.max(0, stage.attempts.length - 1),
    name: stage.name,
    status: stage.status,
    numTasks: stage.numPartitions,
    completedTasks: outputsAvailable(job, stage),
    runningTasks: stage.runningTasks,
    failedAttempts: stage.failedAttempts,
    parentStageIds: [...stage.parentStageIds],
  };
}
