/**
 * The executor's domain vocabulary: what the scheduler asks it to run and what
 * it reports back. The rpc/ edge converts these to and from wire messages.
 */
import type { Plan } from "@ballast/common/plan";

export interface MapLocation {
  mapIndex: number;
  attempt: number;
  shuffleAddress: string;
  nodeId: string;
}

export interface ShuffleReadSpec {
  shuffleIndex: number;
  shuffleId: string;
  numMaps: number;
  locations: MapLocation[];
}

export interface ShuffleWriteSpec {
  shuffleIndex: number;
  shuffleId: string;
  numReducePartitions: number;
}

export interface TaskLaunch {
  taskId: string;
  jobId: string;
  stageId: number;
  stageAttempt: number;
  partition: number;
  attempt: number;
  bundleDigest: string;
  plan: Plan;
  /** The dataset the stage computes. */
  datasetId: number;
  /** Set for shuffle map tasks; result tasks run plan.action. */
  shuffleWrite?: ShuffleWriteSpec;
  shuffleReads: ShuffleReadSpec[];
  conf: Record<string, string>;
  traceparent: string;
}

export type FailureKind = "userError" | "fetchFailed" | "executorError" | "commitDenied" | "killed";

export interface FetchFailureInfo {
  shuffleId: string;
  mapIndex: number;
  mapAttempt: number;
  shuffleAddress: string;
  nodeId: string;
  serviceUnreachable: boolean;
}

export interface TaskFailureInfo {
  kind: FailureKind;
  message: string;
  stack: string;
  /** Short machine-readable kind, e.g. "user_error", "fetch_failed". */
  errorKind: string;
  fetch?: FetchFailureInfo;
}

export interface MapStatusInfo {
  shuffleId: string;
  mapIndex: number;
  attempt: number;
  shuffleAddress: string;
  nodeId: string;
  partitionSizes: number[];
}

export interface TaskResultInfo {
  /** collect: msgpack array of the partition's records. */
  records?: Uint8Array;
  count: number;
}

export interface TaskMetrics {
  durationMs: number;
  inputBytes: number;
  shuffleBytesWritten: number;
  shuffleBytesRead: number;
  recordsOut: number;
}

export type TaskState = "running" | "succeeded" | "failed" | "killed";

export interface TaskStatusUpdate {
  taskId: string;
  state: TaskState;
  mapStatus?: MapStatusInfo;
  result?: TaskResultInfo;
  failure?: TaskFailureInfo;
  metrics?: TaskMetrics;
}

export function emptyMetrics(): TaskMetrics {
  return { durationMs: 0, inputBytes: 0, shuffleBytesWritten: 0, shuffleBytesRead: 0, recordsOut: 0 };
}

/** A task ends in exactly one of these; the runner turns any thrown TaskFailure into a failed update. */
export class TaskFailure extends Error {
  constructor(readonly info: TaskFailureInfo) {
    super(info.message);
    this.name = "TaskFailure";
  }
}

export function failure(kind: FailureKind, message: string, extra: Partial<TaskFailureInfo> = {}): TaskFailure {
  return new TaskFailure({ kind, message, stack: "", errorKind: ERROR_KINDS[kind], ...extra });
}

const ERROR_KINDS: Record<FailureKind, string> = {
  userError: "user_error",
  fetchFailed: "fetch_failed",
  executorError: "executor_error",
  commitDenied: "commit_denied",
  killed: "killed",
};

/** Part file name of a partition: part-00007. */
export function partFileName(partition: number): string {
  return `part-${String(partition).padStart(5, "0")}`;
}
