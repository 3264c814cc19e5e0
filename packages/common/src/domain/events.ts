/**
 * The events of an application (one scheduler deployment): what the
 * scheduler core emits, the scheduler ships, and history stores and projects.
 * Domain form of events.proto's Event payloads; wire/events.ts converts.
 */
import type { JobStats } from "./stats.js";
import type { DecommissionState, JobStatus, StageStatus } from "./states.js";
import type { TaskState } from "./tasks.js";

export const EXCLUSION_SCOPES = ["executor", "node"] as const;
export type ExclusionScope = (typeof EXCLUSION_SCOPES)[number];

/** DecommissionChanged phases in the order a decommission goes through them (expired: the deadline passed first). */
export const DECOMMISSION_PHASES = ["requested", "drained", "migrated", "decommissioned", "recommissioned", "expired"] as const;
export type DecommissionPhase = (typeof DECOMMISSION_PHASES)[number];

/**
 * The state a phase leaves the node in: requested/drained/migrated: still
 * draining; decommissioned/expired: gone (expired: taken away with what was
 * not migrated); recommissioned or a phase unknown here: none in force.
 */
export function decommissionStateOfPhase(phase: string): DecommissionState | undefined {
  switch (phase) {
    case "requested":
    case "drained":
    case "migrated":
      return "decommissioning";
    case "decommissioned":
    case "expired":
      return "decommissioned";
    default:
      return undefined;
  }
}

export interface ErrorView {
  message: string;
  stack: string;
  kind: string;
}

/** Who an added executor is; ExecutorAdded carries it (the scheduler's ExecutorView is one). */
export interface ExecutorDetails {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  shuffleAddress: string;
  registeredAtMs: number;
}

/** TaskStarted: an attempt was launched on an executor. */
export interface TaskStart {
  taskId: string;
  stageId: number;
  stageAttempt: number;
  partition: number;
  attempt: number;
  executorId: string;
  nodeId: string;
}

/** A persisted dataset of an application's job and where its cached partitions live (CachedDatasets). */
export interface CachedDatasetInfo {
  cacheKey: string;
  /** "<op> at <call site>". */
  name: string;
  level: string;
  numPartitions: number;
  /** Partitions with at least one copy. */
  partitionsHeld: number;
  bytes: number;
  /** By kind, then id: "memory" holders are executors, "disk" ones nodes. */
  holders: Array<{ kind: string; id: string; partitions: number; bytes: number }>;
}

/** What happened, one variant per payload of events.proto's Event. */
export type EventBody =
  /** traceId is filled in by the scheduler's shell, which owns the spans. */
  | { type: "jobSubmitted"; name: string; numStages: number; traceId?: string; applicationId?: string }
  | { type: "jobEnded"; status: JobStatus; error?: ErrorView; stats: JobStats }
  | { type: "stageSubmitted"; stageId: number; attempt: number; name: string; numTasks: number; partitions: number[]; parentStageIds: number[] }
  | { type: "stageEnded"; stageId: number; attempt: number; status: StageStatus; reason: string }
  | ({ type: "taskStarted" } & TaskStart)
  | { type: "taskEnded"; taskId: string; stageId: number; partition: number; state: TaskState; error?: ErrorView; durationMs: number; executorId: string }
  | { type: "executorAdded"; executor: ExecutorDetails }
  | { type: "executorRemoved"; executorId: string; reason: string }
  | { type: "mapOutputsLost"; stageId: number; shuffleId: string; mapIndexes: number[]; reason: string }
  | { type: "stageResubmitted"; stageId: number; partitions: number[]; reason: string }
  | { type: "taskResubmitted"; taskId: string; stageId: number; partition: number; reason: string }
  | {
      type: "exclusionChanged";
      scope: ExclusionScope;
      id: string;
      excluded: boolean;
      untilMs: number;
      reason: string;
      /** Stage-level exclusions only keep one stage off the executor or node; they stay in the log. */
      stageScoped: boolean;
      stageId: number;
    }
  /** phase: one of DECOMMISSION_PHASES (history keeps others, from a newer scheduler, but they change no state). */
  | { type: "decommissionChanged"; nodeId: string; phase: string; deadlineMs: number; reason: string }
  | { type: "shuffleMigrated"; nodeId: string; outputs: number; bytes: number; durationMs: number; targetAddresses: string; outputsNotMigrated: number }
  | { type: "schedulerFailover"; epoch: number; downtimeMs: number; jobsRecovered: number; leaderAddress: string }
  | { type: "cachedDatasets"; applicationId: string; datasets: CachedDatasetInfo[] };

export type EventType = EventBody["type"];

/** An event as the scheduler core emits it. jobId is "" for application-level events (executors, nodes). */
export type HistoryEvent = { jobId: string; timeMs: number } & EventBody;

/** An event as published to and stored by history: `seq` orders an application's events and makes publishing idempotent. */
export interface PublishedEvent {
  seq: number;
  timeMs: number;
  jobId: string;
  body: EventBody;
}

export function publishedEvent(seq: number, event: HistoryEvent): PublishedEvent {
  const { jobId, timeMs, ...body } = event;
  return { seq, timeMs, jobId, body: body as EventBody };
}
