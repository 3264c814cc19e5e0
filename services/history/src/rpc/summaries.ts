/**
 * History's own messages (history.proto's summaries) on the wire. Events,
 * executors, errors, stats and the shared enums convert through
 * @ballast/common/wire.
 */
import type {
  ApplicationSummary as WireApplication,
  JobSummary as WireJob,
  StageSummary as WireStage,
  TaskSummary as WireTask,
} from "@ballast/gen/history";
import { errorToWire, jobStatus, stageStatus, statsToWire } from "@ballast/common/wire/jobs";
import { taskState } from "@ballast/common/wire/tasks";
import type { ApplicationSummary, JobSummary, StageSummary, TaskSummary } from "../core/summaries.js";

export function applicationToWire(app: ApplicationSummary): WireApplication {
  return {
    applicationId: app.applicationId,
    firstEventMs: app.firstEventMs,
    lastEventMs: app.lastEventMs,
    eventCount: app.eventCount,
    jobCount: app.jobCount,
    deadLetterCount: app.deadLetterCount,
  };
}

export function jobToWire(job: JobSummary): WireJob {
  return {
    jobId: job.jobId,
    name: job.name,
    status: jobStatus.toWire(job.status),
    submittedAtMs: job.submittedAtMs,
    endedAtMs: job.endedAtMs,
    stats: statsToWire(job.stats),
    error: errorToWire(job.error),
    traceId: job.traceId,
    driverApplicationId: job.driverApplicationId,
  };
}

export function stageToWire(stage: StageSummary): WireStage {
  return {
    jobId: stage.jobId,
    stageId: stage.stageId,
    attempt: stage.attempt,
    name: stage.name,
    status: stageStatus.toWire(stage.status),
    numTasks: stage.numTasks,
    reason: stage.reason,
  };
}

export function taskToWire(task: TaskSummary): WireTask {
  return {
    taskId: task.taskId,
    jobId: task.jobId,
    stageId: task.stageId,
    stageAttempt: task.stageAttempt,
    partition: task.partition,
    attempt: task.attempt,
    executorId: task.executorId,
    state: taskState.toWire(task.state),
    error: errorToWire(task.error),
    durationMs: task.durationMs,
  };
}
