/**
 * Tasks as the scheduler launches them and the executor runs and reports
 * them. One vocabulary for both sides of the executor session; rpc edges
 * convert it with wire/tasks.ts. Nothing here imports gen/ or gRPC.
 */
import type { Plan } from "../plan.js";

export const TASK_STATES = ["running", "succeeded", "failed", "killed"] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Why an attempt failed; decides what the scheduler does next (retry, recompute the map output, ...). */
export const FAILURE_KINDS = ["userError", "fetchFailed", "executorError", "commitDenied", "killed"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

// ------------------------------------------------------------------ launch

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
  /**
   * Range-partitioned shuffles: the result of the shuffle's sample stage, one
   * block per sampled partition in partition order. Recorded by the scheduler
   * once, so every attempt of every map task derives the same bounds.
   */
  rangeSamples?: Uint8Array[];
}

/** Which attempt of which partition of which stage attempt of which job: what names a task everywhere. */
export type TaskIdentity = Pick<TaskLaunch, "taskId" | "jobId" | "stageId" | "stageAttempt" | "partition" | "attempt">;

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
  /** Map tasks: the shuffle to write. Absent for result tasks (they run plan.action). */
  shuffleWrite?: ShuffleWriteSpec;
  /**
   * Sample tasks: compute the dataset's partition and return a sample of the
   * keys of this range-partitioned shuffle, as a collect result (plan.action is not run).
   */
  sampleFor?: { shuffleIndex: number };
  shuffleReads: ShuffleReadSpec[];
  conf: Record<string, string>;
  /** The application the job belongs to ("" for a job(...) file): cached partitions are its own. */
  applicationId?: string;
  /** Where the persisted datasets of the task's pipeline have cached partitions. */
  cachedPartitions?: CachedPartitionLocation[];
}

/** A cached partition of a persisted dataset, as the scheduler's registry knows it. */
export interface CachedPartitionLocation {
  cacheKey: string;
  partition: number;
  /** Held in this executor's memory ("": in no executor's memory). */
  memoryExecutorId: string;
  /** Held by this shuffle service, which outlives executors ("": not on disk). */
  diskShuffleAddress: string;
}

/** A partition of a persisted dataset an attempt computed and kept. */
export interface CachedPartitionWrite {
  cacheKey: string;
  partition: number;
  inMemory: boolean;
  onDisk: boolean;
  bytes: number;
}

/** A partition of a persisted dataset held in an executor's memory, named across applications (evictions, reconnect reports). */
export interface CachedPartitionRef {
  applicationId: string;
  cacheKey: string;
  partition: number;
  bytes: number;
}

/**
 * Disk-level cached partitions live in the node's shuffle service as the map
 * outputs of one pseudo shuffle per persisted dataset (map index = partition,
 * one reduce partition), so they are stored, served and migrated on
 * decommission like shuffle data, and outlive the executor that wrote them.
 */
export function cacheShuffleIdOf(applicationId: string, cacheKey: string): string {
  return `cache-${applicationId}-${cacheKey}`;
}

/** The (application, cache key) of a pseudo shuffle id, or undefined for a job's own shuffle. */
export function parseCacheShuffleId(shuffleId: string): { applicationId: string; cacheKey: string } | undefined {
  const match = /^cache-(.+)-(ds\d+)$/.exec(shuffleId);
  return match ? { applicationId: match[1]!, cacheKey: match[2]! } : undefined;
}

/**
 * A launch as the executor receives it: with the W3C traceparent of the
 * task's span, which the scheduler's shell (owner of the spans) adds on the
 * wire; the scheduler core never sees it.
 */
export interface TracedTaskLaunch extends TaskLaunch {
  traceparent: string;
  /** The job's own staging credentials (auth.ts, role job), minted by the scheduler's shell like the traceparent. */
  jobToken?: string;
}

// ------------------------------------------------------------------ status

export interface MapStatus {
  shuffleId: string;
  mapIndex: number;
  attempt: number;
  shuffleAddress: string;
  nodeId: string;
  partitionSizes: number[];
}

export interface FetchFailure {
  shuffleId: string;
  mapIndex: number;
  mapAttempt: number;
  shuffleAddress: string;
  nodeId: string;
  /** The whole shuffle service was unreachable (node loss), not one bad block. */
  serviceUnreachable: boolean;
}

export interface TaskFailure {
  kind: FailureKind;
  message: string;
  /** The user's stack (frames in their file) when kind is userError. */
  stack: string;
  fetch?: FetchFailure;
}

/**
 * A failure as the executor reports it: also a short machine-readable kind
 * ("user_error", "nondeterministic_graph", ...; ErrorInfo.kind on the wire)
 * for logs and the UI. The scheduler decides by `kind` alone.
 */
export interface ReportedTaskFailure extends TaskFailure {
  errorKind: string;
}

export interface TaskMetrics {
  durationMs: number;
  inputBytes: number;
  shuffleBytesWritten: number;
  shuffleBytesRead: number;
  recordsOut: number;
  /** Sorted runs reduce-side operators wrote to local disk, and their bytes. */
  spills: number;
  spilledBytes: number;
  /** Partitions of persisted datasets read from the cache instead of computed. */
  cachedPartitionsRead?: number;
}

export function emptyMetrics(): TaskMetrics {
  return { durationMs: 0, inputBytes: 0, shuffleBytesWritten: 0, shuffleBytesRead: 0, recordsOut: 0, spills: 0, spilledBytes: 0 };
}

export interface TaskResult {
  /** collect: msgpack-encoded array of the partition's records. */
  records?: Uint8Array;
  count: number;
}

/** What an executor reports about one attempt (TaskUpdate on the wire). */
export interface TaskStatusUpdate {
  taskId: string;
  state: TaskState;
  mapStatus?: MapStatus;
  result?: TaskResult;
  failure?: ReportedTaskFailure;
  metrics?: TaskMetrics;
  /** Partitions of persisted datasets this attempt computed and kept. */
  cachedWrites?: CachedPartitionWrite[];
}
