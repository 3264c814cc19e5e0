/** Wire <-> domain conversion for the executor, the only place (with the other rpc/ files) that knows gen/. */
import { TaskState as WireTaskState } from "@ballast/gen/common";
import {
  FailureKind as WireFailureKind,
  type LaunchTask,
  type TaskUpdate,
} from "@ballast/gen/scheduler";
import { InvalidArgumentError } from "@ballast/common/errors";
import { planFromWire } from "@ballast/common/wire/plan";
import type { FailureKind, TaskLaunch, TaskState, TaskStatusUpdate } from "../core/task.js";

/** Validates and converts a LaunchTask; throws InvalidArgumentError naming what is missing. */
export function taskLaunchFromWire(launch: LaunchTask): TaskLaunch {
  if (!launch.taskId) throw new InvalidArgumentError("LaunchTask without task_id");
  if (!launch.plan) throw new InvalidArgumentError(`LaunchTask ${launch.taskId} has no plan`);
  if (!/^[0-9a-f]{64}$/.test(launch.bundleDigest)) {
    throw new InvalidArgumentError(`LaunchTask ${launch.taskId} has an invalid bundle digest "${launch.bundleDigest}"`);
  }
  return {
    taskId: launch.taskId,
    jobId: launch.jobId,
    stageId: launch.stageId,
    stageAttempt: launch.stageAttempt,
    partition: launch.partition,
    attempt: launch.attempt,
    bundleDigest: launch.bundleDigest,
    plan: planFromWire(launch.plan),
    datasetId: launch.datasetId,
    shuffleWrite: launch.shuffleWrite ? { ...launch.shuffleWrite } : undefined,
    shuffleReads: launch.shuffleReads.map((r) => ({ ...r, locations: r.locations.map((l) => ({ ...l })) })),
    conf: { ...launch.conf },
    traceparent: launch.traceparent,
  };
}

const STATES: Record<TaskState, WireTaskState> = {
  running: WireTaskState.TASK_STATE_RUNNING,
  succeeded: WireTaskState.TASK_STATE_SUCCEEDED,
  failed: WireTaskState.TASK_STATE_FAILED,
  killed: WireTaskState.TASK_STATE_KILLED,
};

const FAILURE_KINDS: Record<FailureKind, WireFailureKind> = {
  userError: WireFailureKind.FAILURE_KIND_USER_ERROR,
  fetchFailed: WireFailureKind.FAILURE_KIND_FETCH_FAILED,
  executorError: WireFailureKind.FAILURE_KIND_EXECUTOR_ERROR,
  commitDenied: WireFailureKind.FAILURE_KIND_COMMIT_DENIED,
  killed: WireFailureKind.FAILURE_KIND_KILLED,
};

export function taskUpdateToWire(update: TaskStatusUpdate): TaskUpdate {
  const { failure, result } = update;
  return {
    taskId: update.taskId,
    state: STATES[update.state],
    mapStatus: update.mapStatus ? { ...update.mapStatus, partitionSizes: [...update.mapStatus.partitionSizes] } : undefined,
    result: result ? { records: asBuffer(result.records), count: result.count } : undefined,
    failure: failure
      ? {
          kind: FAILURE_KINDS[failure.kind],
          error: { message: failure.message, stack: failure.stack, kind: failure.errorKind },
          fetch: failure.fetch ? { ...failure.fetch } : undefined,
        }
      : undefined,
    metrics: update.metrics ? { ...update.metrics } : undefined,
  };
}

/** Rough wire size of an update, to keep results under the gRPC message limit. */
export function updateSizeEstimate(update: TaskStatusUpdate): number {
  return (update.result?.records?.byteLength ?? 0) + (update.failure?.stack.length ?? 0) + (update.failure?.message.length ?? 0) + 1024;
}

/** A Buffer view of the bytes (no copy), as ts-proto's bytes fields expect. */
function asBuffer(bytes: Uint8Array | undefined): Buffer {
  if (!bytes) return Buffer.alloc(0);
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
