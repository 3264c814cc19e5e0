// Wire <-> domain conversion of the executor session's task messages: LaunchTask (scheduler -> executor) and TaskUpdate (back).
import { TaskState as WireTaskState } from "@ballast/gen/common";
import { FailureKind as WireFailureKind, type LaunchTask, type TaskUpdate } from "@ballast/gen/scheduler";
import { FAILURE_KINDS, TASK_STATES, type ShuffleWriteSpec, type TaskLaunch, type TaskStatusUpdate, type TracedTaskLaunch } from "../domain/tasks.js";
import { InvalidArgumentError } from "../errors.js";
import { asBuffer } from "./bytes.js";
import { enumMapping } from "./enums.js";
import { planFromWire, planToWire } from "./plan.js";

export const taskState = enumMapping(WireTaskState, "TASK_STATE_", TASK_STATES);
export const failureKind = enumMapping(WireFailureKind, "FAILURE_KIND_", FAILURE_KINDS);

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function launchToWire(task: TaskLaunch, traceparent: string, epoch: number, jobToken = ""): LaunchTask {
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
    shuffleWrite: task.shuffleWrite && { ...task.shuffleWrite, rangeSamples: (task.shuffleWrite.rangeSamples ?? []).map(asBuffer) },
    sampleFor: task.sampleFor && { ...task.sampleFor },
    shuffleReads: task.shuffleReads.map((r) => ({ ...r, locations: r.locations.map((l) => ({ ...l })) })),
    conf: task.conf,
    traceparent,
    epoch,
    applicationId: task.applicationId ?? "",
    cachedPartitions: (task.cachedPartitions ?? []).map((location) => ({ ...location })),
    jobToken,
  };
}

/** Validates and converts a LaunchTask (its epoch is the session's business); throws InvalidArgumentError naming what is missing. */
export function launchFromWire(launch: LaunchTask): TracedTaskLaunch {
  if (!launch.taskId) throw new InvalidArgumentError("LaunchTask without task_id");
  if (!launch.plan) throw new InvalidArgumentError(`LaunchTask ${launch.taskId} has no plan`);
  if (!SHA256_HEX.test(launch.bundleDigest)) {
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
    shuffleWrite: launch.shuffleWrite ? shuffleWriteFromWire(launch.shuffleWrite) : undefined,
    sampleFor: launch.sampleFor ? { ...launch.sampleFor } : undefined,
    shuffleReads: launch.shuffleReads.map((r) => ({ ...r, locations: r.locations.map((l) => ({ ...l })) })),
    conf: { ...launch.conf },
    traceparent: launch.traceparent,
    ...(launch.applicationId && { applicationId: launch.applicationId }),
    ...(launch.cachedPartitions.length > 0 && { cachedPartitions: launch.cachedPartitions.map((location) => ({ ...location })) }),
    jobToken: launch.jobToken || undefined,
  };
}

function shuffleWriteFromWire({ rangeSamples, ...write }: NonNullable<LaunchTask["shuffleWrite"]>): ShuffleWriteSpec {
  return rangeSamples.length > 0 ? { ...write, rangeSamples: [...rangeSamples] } : write;
}

export function taskUpdateToWire(update: TaskStatusUpdate): TaskUpdate {
  const { failure, result } = update;
  return {
    taskId: update.taskId,
    state: taskState.toWire(update.state),
    mapStatus: update.mapStatus ? { ...update.mapStatus, partitionSizes: [...update.mapStatus.partitionSizes] } : undefined,
    result: result ? { records: asBuffer(result.records), count: result.count } : undefined,
    failure: failure
      ? {
          kind: failureKind.toWire(failure.kind),
          error: { message: failure.message, stack: failure.stack, kind: failure.errorKind },
          fetch: failure.fetch ? { ...failure.fetch } : undefined,
        }
      : undefined,
    metrics: update.metrics ? { ...update.metrics, cachedPartitionsRead: update.metrics.cachedPartitionsRead ?? 0 } : undefined,
    cachedWrites: (update.cachedWrites ?? []).map((write) => ({ ...write })),
  };
}

export function taskUpdateFromWire(update: TaskUpdate): TaskStatusUpdate {
  if (!update.taskId) throw new InvalidArgumentError("task update without task_id");
  const { result, failure } = update;
  return {
    taskId: update.taskId,
    state: taskState.fromWire(update.state),
    mapStatus: update.mapStatus && { ...update.mapStatus, partitionSizes: [...update.mapStatus.partitionSizes] },
    result: result && { records: result.records.length > 0 ? new Uint8Array(result.records) : undefined, count: result.count },
    failure: failure && {
      // A kind this side does not know (a newer executor) counts as the executor's own failure: retried elsewhere.
      kind: failureKind.nameOf(failure.kind) ?? "executorError",
      message: failure.error?.message ?? "",
      stack: failure.error?.stack ?? "",
      errorKind: failure.error?.kind ?? "",
      fetch: failure.fetch && { ...failure.fetch },
    },
    metrics: update.metrics && { ...update.metrics },
    ...(update.cachedWrites.length > 0 && { cachedWrites: update.cachedWrites.map((write) => ({ ...write })) }),
  };
}
