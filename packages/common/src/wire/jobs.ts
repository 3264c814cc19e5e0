// Wire <-> domain conversion of jobs: JobInfo, StageInfo, JobStats, ErrorInfo and their enums.
import {
  JobStatus as WireJobStatus,
  StageStatus as WireStageStatus,
  type ErrorInfo,
  type JobInfo,
  type JobStats as WireJobStats,
  type StageInfo,
} from "@ballast/gen/common";
import type { ErrorView } from "../domain/events.js";
import { emptyStats, type JobStats } from "../domain/stats.js";
import { JOB_STATUSES, STAGE_STATUSES } from "../domain/states.js";
import type { JobView, StageView } from "../domain/views.js";
import { asBuffer } from "./bytes.js";
import { enumMapping } from "./enums.js";
import { actionKind } from "./plan.js";

export const jobStatus = enumMapping(WireJobStatus, "JOB_STATUS_", JOB_STATUSES);
export const stageStatus = enumMapping(WireStageStatus, "STAGE_STATUS_", STAGE_STATUSES);

export function errorToWire(error: ErrorView | undefined): ErrorInfo | undefined {
  return error && { message: error.message, stack: error.stack, kind: error.kind };
}

export function errorFromWire(error: ErrorInfo | undefined): ErrorView | undefined {
  return error && { message: error.message, stack: error.stack, kind: error.kind };
}

export function statsToWire(stats: JobStats): WireJobStats {
  return { ...stats };
}

/** Stats the sender left out are all zero. */
export function statsFromWire(stats: WireJobStats | undefined): JobStats {
  return stats ? { ...stats } : emptyStats();
}

export function stageToWire(stage: StageView): StageInfo {
  return { ...stage, status: stageStatus.toWire(stage.status), parentStageIds: [...stage.parentStageIds] };
}

export function stageFromWire(stage: StageInfo): StageView {
  return { ...stage, status: stageStatus.fromWire(stage.status), parentStageIds: [...stage.parentStageIds] };
}

export function jobToWire(job: JobView): JobInfo {
  return {
    jobId: job.jobId,
    name: job.name,
    applicationId: job.applicationId,
    actionNumber: job.action ? job.action.index + 1 : 0,
    actionCallSite: job.action?.callSite ?? "",
    bundleDigest: job.bundleDigest ?? "",
    args: [...(job.args ?? [])],
    status: jobStatus.toWire(job.status),
    submittedAtMs: job.submittedAtMs,
    finishedAtMs: job.finishedAtMs,
    stages: job.stages.map(stageToWire),
    stats: statsToWire(job.stats),
    error: errorToWire(job.error),
    result: job.result && {
      action: actionKind.toWire(job.result.action),
      partitionRecords: job.result.partitionRecords.map(asBuffer),
      count: job.result.count,
      outputUri: job.result.outputUri,
    },
  };
}

export function jobFromWire(job: JobInfo): JobView {
  const view: JobView = {
    jobId: job.jobId,
    name: job.name,
    applicationId: job.applicationId,
    status: jobStatus.fromWire(job.status),
    submittedAtMs: job.submittedAtMs,
    finishedAtMs: job.finishedAtMs,
    stages: job.stages.map(stageFromWire),
    stats: statsFromWire(job.stats),
  };
  if (job.actionNumber > 0) view.action = { index: job.actionNumber - 1, callSite: job.actionCallSite };
  if (job.bundleDigest) view.bundleDigest = job.bundleDigest;
  if (job.args.length > 0) view.args = [...job.args];
  if (job.error) view.error = errorFromWire(job.error);
  if (job.result) {
    const { action, partitionRecords, count, outputUri } = job.result;
    view.result = { action: actionKind.fromWire(action), partitionRecords: [...partitionRecords], count, outputUri };
  }
  return view;
}
