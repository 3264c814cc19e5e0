/**
 * The history service's projections: the summaries it keeps of an
 * application's events (the events themselves and the states they mention
 * are @ballast/common/domain). Enums are lowercase strings, which is also how
 * the JSON API shows them. Nothing here imports gen/ or gRPC; rpc/ converts
 * at the edge.
 */
import type { ErrorView, TaskStart } from "@ballast/common/domain/events";
import type { JobStats } from "@ballast/common/domain/stats";
import type { JobStatus, ResourceState, StageStatus } from "@ballast/common/domain/states";
import type { TaskState } from "@ballast/common/domain/tasks";
import type { ExecutorView } from "@ballast/common/domain/views";

export interface ApplicationSummary {
  applicationId: string;
  firstEventMs: number;
  lastEventMs: number;
  eventCount: number;
  jobCount: number;
  /** The highest seq stored. */
  lastSeq: number;
  /** Events refused (dead letters): each is logged, kept in dead_letters and skipped. */
  deadLetterCount: number;
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
  /** The driver program's application the job is an action of ("" for a job(...) file). */
  driverApplicationId: string;
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

/** One task attempt: what its TaskStarted said, and how it ended. */
export interface TaskSummary extends TaskStart {
  jobId: string;
  state: TaskState;
  error?: ErrorView;
  durationMs: number;
  startedAtMs: number;
  endedAtMs: number;
}

/**
 * The scheduler's view of an executor, rebuilt from events: runningTasks is
 * what was last seen running on it (0 once it is removed); excludedUntilMs
 * is when an application-level exclusion of it or its node ends (0: none in
 * force); stateReason says why it is in `state` ("" when active).
 */
export interface ExecutorSummary extends ExecutorView {
  removedAtMs: number;
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
