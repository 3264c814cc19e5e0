/**
 * The history service's domain vocabulary: the events of an application (one
 * scheduler deployment) and the summaries projected from them. Enums are
 * lowercase strings, which is also how the JSON API shows them. Nothing here
 * imports gen/ or gRPC; rpc/ converts at the edge.
 */

export type JobStatus = "unspecified" | "running" | "succeeded" | "failed" | "cancelled";
export type StageStatus = "unspecified" | "waiting" | "running" | "succeeded" | "failed";
export type TaskState = "unspecified" | "running" | "succeeded" | "failed" | "killed";
/** What an executor or node is, as the scheduler's views say it. */
export type ResourceState = "active" | "excluded" | "decommissioning" | "decommissioned" | "lost";
export type ExclusionScope = "executor" | "node";

export const EXCLUSION_SCOPES: readonly ExclusionScope[] = ["executor", "node"];
export const DECOMMISSION_PHASES = ["requested", "drained", "migrated", "decommissioned", "recommissioned", "expired"] as const;

export interface ErrorView {
  message: string;
  stack: string;
  kind: string;
}

export interface JobStats {
  tasksLaunched: number;
  taskAttemptsFailed: number;
  stageAttempts: number;
  wallTimeMs: number;
  shuffleBytesWritten: number;
  inputBytes: number;
  recomputedTasks: number;
  lostMapOutputs: number;
}

export interface ExecutorDetails {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  shuffleAddress: string;
  registeredAtMs: number;
}

/** What happened, one variant per payload of events.proto's Event. */
export type EventBody =
  | { type: "jobSubmitted"; name: string; numStages: number; traceId: string }
  | { type: "jobEnded"; status: JobStatus; error?: ErrorView; stats?: JobStats }
  | { type: "stageSubmitted"; stageId: number; attempt: number; name: string; numTasks: number; partitions: number[]; parentStageIds: number[] }
  | { type: "stageEnded"; stageId: number; attempt: number; status: StageStatus; reason: string }
  | { type: "taskStarted"; taskId: string; stageId: number; stageAttempt: number; partition: number; attempt: number; executorId: string; nodeId: string }
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
  /** phase: one of DECOMMISSION_PHASES (others are kept but change no state). */
  | { type: "decommissionChanged"; nodeId: string; phase: string; deadlineMs: number; reason: string }
  | { type: "shuffleMigrated"; nodeId: string; outputs: number; bytes: number; durationMs: number; targetAddresses: string; outputsNotMigrated: number }
  | { type: "schedulerFailover"; epoch: number; downtimeMs: number; jobsRecovered: number; leaderAddress: string };

export type EventType = EventBody["type"];

/** One state change of the scheduler; `seq` orders an application's events and makes publishing idempotent. */
export interface HistoryEvent {
  seq: number;
  timeMs: number;
  /** "" for application-level events (executors). */
  jobId: string;
  body: EventBody;
}

// ------------------------------------------------------------ projections

export interface ApplicationSummary {
  applicationId: string;
  firstEventMs: number;
  lastEventMs: number;
  eventCount: number;
  jobCount: number;
  /** The highest seq stored. */
  lastSeq: number;
}

export interface JobSummary {
  jobId: string;
  name: string;
  status: JobStatus;
  submittedAtMs: number;
  endedAtMs: number;
  numStages: number;
  /** From JobEnded (all zero while the job runs). */
  stats: JobStats;
  /** Counted from the job's recovery events as they arrive, so a running job shows them too. */
  recovery: JobRecovery;
  error?: ErrorView;
  traceId: string;
}

export interface JobRecovery {
  /** Map outputs unregistered (sum of MapOutputsLost map indexes). */
  lostMapOutputs: number;
  stageResubmissions: number;
  /** Partitions rerun by stage resubmissions. */
  resubmittedPartitions: number;
  /** Tasks requeued through no fault of their own (lost executor). */
  taskResubmissions: number;
}

export interface StageSummary {
  jobId: string;
  stageId: number;
  attempt: number;
  name: string;
  status: StageStatus;
  numTasks: number;
  /** Tasks of this attempt that ended succeeded (from the task projection). */
  completedTasks: number;
  reason: string;
  submittedAtMs: number;
  endedAtMs: number;
}

export interface TaskSummary {
  taskId: string;
  jobId: string;
  stageId: number;
  stageAttempt: number;
  partition: number;
  attempt: number;
  executorId: string;
  nodeId: string;
  state: TaskState;
  error?: ErrorView;
  durationMs: number;
  startedAtMs: number;
  endedAtMs: number;
}

export interface ExecutorSummary extends ExecutorDetails {
  alive: boolean;
  /** Tasks last seen running on it (0 once it is removed). */
  runningTasks: number;
  removedAtMs: number;
  lostReason: string;
  state: ResourceState;
  /** Until when an application-level exclusion of it or its node lasts; 0 when none is in force. */
  excludedUntilMs: number;
  /** Why it is in `state` ("" when active). */
  stateReason: string;
}

export interface NodeSummary {
  nodeId: string;
  state: ResourceState;
  reason: string;
  excludedUntilMs: number;
  /** The last decommission phase seen ("" when never decommissioned). */
  decommissionPhase: string;
  decommissionDeadlineMs: number;
  /** Totals over every migration off this node. */
  migratedOutputs: number;
  migratedBytes: number;
  outputsNotMigrated: number;
  /** The last migration's targets. */
  migrationTargets: string;
  shuffleAddress: string;
  executorIds: string[];
  aliveExecutors: number;
}

/** A scheduler taking over (SchedulerFailover). */
export interface FailoverSummary {
  seq: number;
  timeMs: number;
  epoch: number;
  downtimeMs: number;
  jobsRecovered: number;
  leaderAddress: string;
}

export interface EventQuery {
  /** Only this job's events when non-empty. */
  jobId: string;
  /** Events with seq greater than this. */
  afterSeq: number;
  limit: number;
}

export const EMPTY_RECOVERY: JobRecovery = { lostMapOutputs: 0, stageResubmissions: 0, resubmittedPartitions: 0, taskResubmissions: 0 };

export const EMPTY_STATS: JobStats = {
  tasksLaunched: 0,
  taskAttemptsFailed: 0,
  stageAttempts: 0,
  wallTimeMs: 0,
  shuffleBytesWritten: 0,
  inputBytes: 0,
  recomputedTasks: 0,
  lostMapOutputs: 0,
};
