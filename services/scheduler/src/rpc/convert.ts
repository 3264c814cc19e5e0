// Domain <-> wire conversion for the scheduler's RPCs and events.
import type { ErrorInfo, ExecutorInfo, JobInfo, JobStats as WireJobStats } from "@ballast/gen/common";
import type { Event } from "@ballast/gen/events";
import { FailureKind, NodeState, type ExecutorSessionRequest, type LaunchTask, type NodeInfo } from "@ballast/gen/scheduler";
import { InvalidArgumentError } from "@ballast/common/errors";
import { actionKind, jobStatus, planToWire, stageStatus, taskState } from "@ballast/common/wire/plan";
import type { ErrorView, ExecutorView, FailureKind as DomainFailureKind, HistoryEvent, Input, JobStats, JobView, NodeView, ResourceState, TaskLaunch } from "../core/types.js";

export function errorToWire(error: ErrorView | undefined): ErrorInfo | undefined {
  return error && { message: error.message, stack: error.stack, kind: error.kind };
}

export function statsToWire(stats: JobStats): WireJobStats {
  return { ...stats };
}

export function executorToWire(e: ExecutorView): ExecutorInfo {
  return { ...e };
}

export function jobToWire(job: JobView): JobInfo {
  return {
    jobId: job.jobId,
    name: job.name,
    status: jobStatus.toWire(job.status),
    submittedAtMs: job.submittedAtMs,
    finishedAtMs: job.finishedAtMs,
    stages: job.stages.map((s) => ({ ...s, status: stageStatus.toWire(s.status), parentStageIds: [...s.parentStageIds] })),
    stats: statsToWire(job.stats),
    error: errorToWire(job.error),
    result: job.result && {
      action: actionKind.toWire(job.result.action),
      partitionRecords: job.result.partitionRecords.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)),
      count: job.result.count,
      outputUri: job.result.outputUri,
    },
  };
}

const NODE_STATES: Record<ResourceState, NodeState> = {
  active: NodeState.NODE_STATE_ACTIVE,
  excluded: NodeState.NODE_STATE_EXCLUDED,
  decommissioning: NodeState.NODE_STATE_DECOMMISSIONING,
  decommissioned: NodeState.NODE_STATE_DECOMMISSIONED,
  lost: NodeState.NODE_STATE_LOST,
};

export function nodeToWire(node: NodeView): NodeInfo {
  return { ...node, executorIds: [...node.executorIds], state: NODE_STATES[node.state] };
}

export function launchToWire(task: TaskLaunch, traceparent: string, epoch: number): LaunchTask {
  return {
    taskId: task.taskId,
    jobId: task.jobId,
    stageId: task.stageId,
    stageAttempt: task.stageAttempt,
    partition: task.partition,
    attempt: task.attempt,
    bundleDigest: task.bundleDigest,
    plan: planToWire(task.plan),
    datasetId: task.datasetId,
    shuffleWrite: task.shuffleWrite,
    shuffleReads: task.shuffleReads.map((r) => ({ ...r, locations: r.locations.map((l) => ({ ...l })) })),
    conf: task.conf,
    traceparent,
    epoch,
  };
}

/** The payload of a history event, in the wire's oneof shape. */
export function eventToWire(seq: number, event: HistoryEvent): Event {
  const { jobId, timeMs, type, ...fields } = event;
  const value: Record<string, unknown> = { ...fields };
  if (event.type === "jobEnded") {
    value.status = jobStatus.toWire(event.status);
    value.error = errorToWire(event.error);
  } else if (event.type === "stageEnded") {
    value.status = stageStatus.toWire(event.status);
  } else if (event.type === "taskEnded") {
    value.state = taskState.toWire(event.state);
    value.error = errorToWire(event.error);
  } else if (event.type === "executorAdded") {
    value.executor = executorToWire(event.executor);
  }
  return { seq, timeMs, jobId, payload: { $case: type, value } as unknown as Event["payload"] };
}

const FAILURE_KINDS = new Map<FailureKind, DomainFailureKind>([
  [FailureKind.FAILURE_KIND_USER_ERROR, "userError"],
  [FailureKind.FAILURE_KIND_FETCH_FAILED, "fetchFailed"],
  [FailureKind.FAILURE_KIND_EXECUTOR_ERROR, "executorError"],
  [FailureKind.FAILURE_KIND_COMMIT_DENIED, "commitDenied"],
  [FailureKind.FAILURE_KIND_KILLED, "killed"],
]);

type SessionMessage = NonNullable<ExecutorSessionRequest["message"]>;

/** Converts an executor's heartbeat or task update to a core input (registration is handled by the session). */
export function sessionMessageToInput(executorId: string, message: SessionMessage): Input {
  switch (message.$case) {
    case "heartbeat":
      return { type: "heartbeat", executorId, runningTaskIds: [...message.value.runningTaskIds] };
    case "taskUpdate": {
      const u = message.value;
      if (!u.taskId) throw new InvalidArgumentError("task update without task_id");
      const failure = u.failure && {
        kind: FAILURE_KINDS.get(u.failure.kind) ?? "executorError",
        message: u.failure.error?.message ?? "",
        stack: u.failure.error?.stack ?? "",
        fetch: u.failure.fetch && { ...u.failure.fetch },
      };
      return {
        type: "taskUpdate",
        executorId,
        taskId: u.taskId,
        state: taskState.fromWire(u.state),
        mapStatus: u.mapStatus && { ...u.mapStatus, partitionSizes: [...u.mapStatus.partitionSizes] },
        records: u.result && u.result.records.length > 0 ? new Uint8Array(u.result.records) : undefined,
        count: u.result?.count,
        failure,
        metrics: u.metrics && { ...u.metrics },
      };
    }
    case "register":
      throw new InvalidArgumentError("executor is already registered on this session");
  }
}
