/**
 * Wire (gen/) <-> domain (core/types.ts) conversion for the history service.
 * The only place that knows both shapes.
 */
import {
  JobStatus as WireJobStatus,
  StageStatus as WireStageStatus,
  TaskState as WireTaskState,
  type ErrorInfo,
  type ExecutorInfo,
} from "@ballast/gen/common";
import { Event as WireEvent } from "@ballast/gen/events";
import type {
  ApplicationSummary as WireApplication,
  JobSummary as WireJob,
  StageSummary as WireStage,
  TaskSummary as WireTask,
} from "@ballast/gen/history";
import { InvalidArgumentError } from "@ballast/common/errors";
import type {
  ApplicationSummary,
  ErrorView,
  EventBody,
  ExecutorSummary,
  HistoryEvent,
  JobStatus,
  JobSummary,
  StageStatus,
  StageSummary,
  TaskState,
  TaskSummary,
} from "../core/types.js";
import type { EventCodec } from "../store/store.js";

/** A two-way enum mapping; values missing on either side become "unspecified" / 0. */
function enumMapping<D extends string, W extends number>(pairs: Record<D, W>) {
  const toDomain = new Map<number, D>(Object.entries(pairs).map(([d, w]) => [w as number, d as D]));
  return {
    fromWire: (value: W): D => toDomain.get(value) ?? ("unspecified" as D),
    toWire: (value: D): W => pairs[value],
  };
}

export const jobStatus = enumMapping<JobStatus, WireJobStatus>({
  unspecified: WireJobStatus.JOB_STATUS_UNSPECIFIED,
  running: WireJobStatus.JOB_STATUS_RUNNING,
  succeeded: WireJobStatus.JOB_STATUS_SUCCEEDED,
  failed: WireJobStatus.JOB_STATUS_FAILED,
  cancelled: WireJobStatus.JOB_STATUS_CANCELLED,
});

export const stageStatus = enumMapping<StageStatus, WireStageStatus>({
  unspecified: WireStageStatus.STAGE_STATUS_UNSPECIFIED,
  waiting: WireStageStatus.STAGE_STATUS_WAITING,
  running: WireStageStatus.STAGE_STATUS_RUNNING,
  succeeded: WireStageStatus.STAGE_STATUS_SUCCEEDED,
  failed: WireStageStatus.STAGE_STATUS_FAILED,
});

export const taskState = enumMapping<TaskState, WireTaskState>({
  unspecified: WireTaskState.TASK_STATE_UNSPECIFIED,
  running: WireTaskState.TASK_STATE_RUNNING,
  succeeded: WireTaskState.TASK_STATE_SUCCEEDED,
  failed: WireTaskState.TASK_STATE_FAILED,
  killed: WireTaskState.TASK_STATE_KILLED,
});

const errorFromWire = (error: ErrorInfo | undefined): ErrorView | undefined => error && { message: error.message, stack: error.stack, kind: error.kind };
const errorToWire = (error: ErrorView | undefined): ErrorInfo | undefined => error && { ...error };

// ------------------------------------------------------------------ events

type WirePayload = NonNullable<WireEvent["payload"]>;

/** Converts a published event; an event without a payload is the caller's mistake. */
export function eventFromWire(event: WireEvent): HistoryEvent {
  if (!event.payload) throw new InvalidArgumentError(`event seq ${event.seq} has no payload`);
  return { seq: event.seq, timeMs: event.timeMs, jobId: event.jobId, body: bodyFromWire(event.payload) };
}

function bodyFromWire(payload: WirePayload): EventBody {
  switch (payload.$case) {
    case "jobEnded": {
      const { status, error, stats } = payload.value;
      return { type: "jobEnded", status: jobStatus.fromWire(status), error: errorFromWire(error), stats: stats && { ...stats } };
    }
    case "stageEnded":
      return { type: "stageEnded", ...payload.value, status: stageStatus.fromWire(payload.value.status) };
    case "taskEnded": {
      const value = payload.value;
      return { type: "taskEnded", ...value, state: taskState.fromWire(value.state), error: errorFromWire(value.error) };
    }
    case "executorAdded": {
      const info = payload.value.executor;
      const executor = {
        executorId: info?.executorId ?? "",
        nodeId: info?.nodeId ?? "",
        host: info?.host ?? "",
        slots: info?.slots ?? 0,
        shuffleAddress: info?.shuffleAddress ?? "",
        registeredAtMs: info?.registeredAtMs ?? 0,
      };
      return { type: "executorAdded", executor };
    }
    default:
      // The remaining payloads have the same fields in both shapes (exclusionChanged's scope is
      // a plain string on the wire; validation refuses values outside ExclusionScope).
      return { type: payload.$case, ...payload.value } as EventBody;
  }
}

export function eventToWire(event: HistoryEvent): WireEvent {
  return { seq: event.seq, timeMs: event.timeMs, jobId: event.jobId, payload: bodyToWire(event.body) };
}

function withoutType<B extends EventBody>({ type: _type, ...fields }: B): Omit<B, "type"> {
  return fields;
}

function bodyToWire(body: EventBody): WirePayload {
  switch (body.type) {
    case "jobEnded":
      return { $case: "jobEnded", value: { status: jobStatus.toWire(body.status), error: errorToWire(body.error), stats: body.stats && { ...body.stats } } };
    case "stageEnded":
      return { $case: "stageEnded", value: { ...withoutType(body), status: stageStatus.toWire(body.status) } };
    case "taskEnded":
      return { $case: "taskEnded", value: { ...withoutType(body), state: taskState.toWire(body.state), error: errorToWire(body.error) } };
    case "executorAdded":
      return {
        $case: "executorAdded",
        value: { executor: { ...body.executor, alive: true, runningTasks: 0, lostReason: "", state: "active", excludedUntilMs: 0, stateReason: "" } },
      };
    default:
      // The remaining payloads have the same fields in both shapes.
      return { $case: body.type, value: withoutType(body) } as WirePayload;
  }
}

/** Keeps events.proto bytes in the log, so the stored payload is exactly what the wire carries. */
export const wireEventCodec: EventCodec = {
  encode: (event) => WireEvent.encode(eventToWire(event)).finish(),
  decode: (bytes) => {
    const wire = WireEvent.decode(bytes);
    if (!wire.payload) throw new Error(`stored event seq ${wire.seq} has no payload`);
    return { seq: wire.seq, timeMs: wire.timeMs, jobId: wire.jobId, body: bodyFromWire(wire.payload) };
  },
};

// --------------------------------------------------------------- summaries

export function applicationToWire(app: ApplicationSummary): WireApplication {
  return {
    applicationId: app.applicationId,
    firstEventMs: app.firstEventMs,
    lastEventMs: app.lastEventMs,
    eventCount: app.eventCount,
    jobCount: app.jobCount,
  };
}

export function jobToWire(job: JobSummary): WireJob {
  return {
    jobId: job.jobId,
    name: job.name,
    status: jobStatus.toWire(job.status),
    submittedAtMs: job.submittedAtMs,
    endedAtMs: job.endedAtMs,
    stats: { ...job.stats },
    error: errorToWire(job.error),
    traceId: job.traceId,
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

export function executorToWire(executor: ExecutorSummary): ExecutorInfo {
  return {
    executorId: executor.executorId,
    nodeId: executor.nodeId,
    host: executor.host,
    slots: executor.slots,
    shuffleAddress: executor.shuffleAddress,
    alive: executor.alive,
    runningTasks: executor.runningTasks,
    registeredAtMs: executor.registeredAtMs,
    lostReason: executor.lostReason,
    state: executor.state,
    excludedUntilMs: executor.excludedUntilMs,
    stateReason: executor.stateReason,
  };
}
