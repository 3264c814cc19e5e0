/**
 * The scheduler core's vocabulary. The core is a deterministic state machine:
 * `step(state, input, now) -> commands`. No clocks, randomness or I/O inside;
 * the shell (rpc/, store/) feeds inputs, persists them, and carries out the
 * commands. Nothing here imports gen/ or gRPC.
 */
import type { ActionKind, Plan } from "@ballast/common/plan";

export type { Plan, ActionKind };

// ---------------------------------------------------------------- inputs

export interface ExecutorDescription {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  shuffleAddress: string;
  /** On reconnect after a scheduler failover: the tasks still running there. */
  runningTaskIds?: string[];
}

export interface MapStatus {
  shuffleId: string;
  mapIndex: number;
  attempt: number;
  shuffleAddress: string;
  nodeId: string;
  partitionSizes: number[];
}

export type FailureKind = "userError" | "fetchFailed" | "executorError" | "commitDenied" | "killed";

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

export interface TaskMetrics {
  durationMs: number;
  inputBytes: number;
  shuffleBytesWritten: number;
  shuffleBytesRead: number;
  recordsOut: number;
}

export type TaskState = "running" | "succeeded" | "failed" | "killed";

export type Input =
  | {
      type: "jobSubmitted";
      /** Chosen by the shell (unique, persisted with the input so replay is exact). */
      jobId: string;
      plan: Plan;
      bundleDigest: string;
      /** Validated `ballast.*` overrides for this job. */
      conf: Record<string, string>;
      /** W3C traceparent of the client's submit span, parent of the job span ("" if none). */
      traceparent: string;
      /** The client's idempotency key (the shell dedupes retried submissions by it). */
      submissionId?: string;
    }
  | { type: "cancelJob"; jobId: string; reason: string }
  | { type: "executorRegistered"; executor: ExecutorDescription }
  | { type: "executorLost"; executorId: string; reason: string }
  | { type: "heartbeat"; executorId: string; runningTaskIds: string[] }
  | {
      type: "taskUpdate";
      executorId: string;
      taskId: string;
      state: TaskState;
      mapStatus?: MapStatus;
      /** collect: msgpack-encoded array of the partition's records. */
      records?: Uint8Array;
      count?: number;
      failure?: TaskFailure;
      metrics?: TaskMetrics;
    }
  /** An attempt asks to commit its output partition; answered by a commitDecision command. */
  | { type: "commitRequested"; taskId: string; requestId: string }
  /** Time passed: heartbeat timeouts, delayed resubmissions. The shell sends one every ~100ms. */
  | { type: "tick" }
  /**
   * The shell found a node's shuffle service unreachable (it probes after a
   * probeShuffleService command): every map output there is lost; recompute
   * proactively, batched with other losses inside ballast.scheduler.resubmitDelay.
   */
  | { type: "shuffleServiceLost"; nodeId: string; shuffleAddress: string; reason: string }
  /** Graceful decommission until `deadlineMs` (absolute time, ms). */
  | { type: "decommissionNode"; nodeId: string; deadlineMs: number; reason: string }
  | { type: "recommissionNode"; nodeId: string }
  /** One map output of a decommissioning node landed on a peer: repoint it. */
  | { type: "mapOutputMigrated"; fromNodeId: string; shuffleId: string; mapIndex: number; attempt: number; newAddress: string; newNodeId: string; bytes: number }
  /** The node's migration stream ended; what was not migrated must be recomputed. */
  | { type: "migrationFinished"; nodeId: string; migrated: number; failed: number; bytes: number; durationMs: number; error: string }
  /**
   * A scheduler took over (restart or standby) after replaying the log: every
   * executor it believed alive gets until now + recovery.executorReconnectTimeout
   * to re-register before it is lost. The core records the failover (history
   * event, one "scheduler.failover" span per running job). Persisted like any input.
   */
  | {
      type: "recoveryStarted";
      epoch: number;
      /** Since the previous leader's last lease renewal (0 when unknown): the failover spans start that far back. */
      downtimeMs?: number;
      /** The new leader, for the schedulerFailover history event ("" when unknown). */
      leaderAddress?: string;
    };

// -------------------------------------------------------------- commands

export interface ShuffleReadSpec {
  shuffleIndex: number;
  shuffleId: string;
  numMaps: number;
  locations: Array<{ mapIndex: number; attempt: number; shuffleAddress: string; nodeId: string }>;
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
  /** Map tasks: the shuffle to write. Absent for result tasks (they run plan.action). */
  shuffleWrite?: { shuffleIndex: number; shuffleId: string; numReducePartitions: number };
  shuffleReads: ShuffleReadSpec[];
  conf: Record<string, string>;
}

/** Domain form of events.proto's Event payloads, shipped to history. */
export type HistoryEvent = { jobId: string; timeMs: number } & (
  /** traceId is filled in by the shell, which owns the spans. */
  | { type: "jobSubmitted"; name: string; numStages: number; traceId?: string }
  | { type: "jobEnded"; status: JobStatus; error?: ErrorView; stats: JobStats }
  | { type: "stageSubmitted"; stageId: number; attempt: number; name: string; numTasks: number; partitions: number[]; parentStageIds: number[] }
  | { type: "stageEnded"; stageId: number; attempt: number; status: StageStatus; reason: string }
  | { type: "taskStarted"; taskId: string; stageId: number; stageAttempt: number; partition: number; attempt: number; executorId: string; nodeId: string }
  | { type: "taskEnded"; taskId: string; stageId: number; partition: number; state: TaskState; error?: ErrorView; durationMs: number; executorId: string }
  | { type: "executorAdded"; executor: ExecutorView }
  | { type: "executorRemoved"; executorId: string; reason: string }
  | { type: "mapOutputsLost"; stageId: number; shuffleId: string; mapIndexes: number[]; reason: string }
  | { type: "stageResubmitted"; stageId: number; partitions: number[]; reason: string }
  | { type: "taskResubmitted"; taskId: string; stageId: number; partition: number; reason: string }
  | { type: "exclusionChanged"; scope: "executor" | "node"; id: string; excluded: boolean; untilMs: number; reason: string; stageScoped: boolean; stageId: number }
  /** phase: requested, drained, migrated, decommissioned, recommissioned, expired */
  | { type: "decommissionChanged"; nodeId: string; phase: string; deadlineMs: number; reason: string }
  | { type: "shuffleMigrated"; nodeId: string; outputs: number; bytes: number; durationMs: number; targetAddresses: string; outputsNotMigrated: number }
  | { type: "schedulerFailover"; epoch: number; downtimeMs: number; jobsRecovered: number; leaderAddress: string }
);

export type Command =
  | { type: "launchTask"; executorId: string; task: TaskLaunch }
  | { type: "killTask"; executorId: string; taskId: string; reason: string }
  | { type: "commitDecision"; requestId: string; taskId: string; allowed: boolean }
  /** Persist and ship to history. */
  | { type: "emitEvent"; event: HistoryEvent }
  /** The job's view changed (progress, end): push it to watchers. */
  | { type: "jobChanged"; jobId: string }
  /** An executor was lost: check whether its node's shuffle service is gone too (answer with shuffleServiceLost). */
  | { type: "probeShuffleService"; nodeId: string; shuffleAddress: string }
  /** Start migrating a decommissioning node's map outputs to these peers (answered by mapOutputMigrated / migrationFinished). */
  | { type: "migrateShuffle"; nodeId: string; shuffleAddress: string; peers: Array<{ nodeId: string; shuffleAddress: string }> }
  /** Drop the executor's session (declared lost while its stream looked alive, e.g. SIGSTOP): it must re-register. */
  | { type: "closeSession"; executorId: string; reason: string }
  /** killExcludedExecutors: ask the executor process to exit. */
  | { type: "shutdownExecutor"; executorId: string; reason: string }
  /** The job ended: its shuffle data may be removed from these services. */
  | { type: "removeShuffles"; jobId: string; shuffleIds: string[]; shuffleAddresses: string[] }
  /**
   * Tracing. The shell owns the spans, keyed by `key` ("job:<id>",
   * "stage:<job>:<stage>.<attempt>", "task:<taskId>"). A task's span is
   * started before its launchTask so the launch carries its traceparent.
   */
  | {
      type: "spanStart";
      key: string;
      parentKey?: string;
      parentTraceparent?: string;
      name: string;
      attributes: Record<string, string | number | boolean>;
      /** Epoch ms, when the span began before the step (a failover's downtime); else now. */
      startTime?: number;
    }
  | { type: "spanEvent"; key: string; name: string; attributes: Record<string, string | number | boolean> }
  | { type: "spanEnd"; key: string; error?: string };

// ----------------------------------------------------------------- views

export type JobStatus = "running" | "succeeded" | "failed" | "cancelled";
export type StageStatus = "waiting" | "running" | "succeeded" | "failed";

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

export interface StageView {
  stageId: number;
  attempt: number;
  name: string;
  status: StageStatus;
  numTasks: number;
  completedTasks: number;
  runningTasks: number;
  failedAttempts: number;
  parentStageIds: number[];
}

export interface JobView {
  jobId: string;
  name: string;
  status: JobStatus;
  submittedAtMs: number;
  finishedAtMs: number;
  stages: StageView[];
  stats: JobStats;
  error?: ErrorView;
  result?: { action: ActionKind; partitionRecords: Uint8Array[]; count: number; outputUri: string };
}

export type ResourceState = "active" | "excluded" | "decommissioning" | "decommissioned" | "lost";

export interface ExecutorView {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  shuffleAddress: string;
  alive: boolean;
  runningTasks: number;
  registeredAtMs: number;
  lostReason: string;
  state: ResourceState;
  excludedUntilMs: number;
  stateReason: string;
}

export interface NodeView {
  nodeId: string;
  state: ResourceState;
  reason: string;
  excludedUntilMs: number;
  shuffleAddress: string;
  executorIds: string[];
  /** Decaying failure score across jobs. */
  failureScore: number;
  decommissionDeadlineMs: number;
  migratedOutputs: number;
  migratedBytes: number;
  runningTasks: number;
}
