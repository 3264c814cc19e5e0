/**
 * The scheduler core's vocabulary. The core is a deterministic state machine:
 * `step(state, input, now) -> commands`. No clocks, randomness or I/O inside;
 * the shell (rpc/, store/) feeds inputs, persists them, and carries out the
 * commands. Nothing here imports gen/ or gRPC.
 *
 * Only what is the core's own is defined here (its inputs and commands, and
 * how an executor describes itself on registration); tasks, events, stats,
 * states and views are the domain vocabulary of @ballast/common, shared with
 * the executor, history and the CLI.
 */
import type { Plan } from "@ballast/common/plan";
import type { HistoryEvent } from "@ballast/common/domain/events";
import type { JobStatus } from "@ballast/common/domain/states";
import type { ApplicationView } from "@ballast/common/domain/views";
import type { CachedPartitionRef, CachedPartitionWrite, MapStatus, TaskFailure, TaskLaunch, TaskMetrics, TaskState } from "@ballast/common/domain/tasks";

export type { ActionKind, Plan } from "@ballast/common/plan";
export type {
  FailureKind,
  FetchFailure,
  MapStatus,
  ShuffleReadSpec,
  TaskFailure,
  TaskIdentity,
  TaskLaunch,
  TaskMetrics,
  TaskState,
} from "@ballast/common/domain/tasks";
export type { ErrorView, HistoryEvent } from "@ballast/common/domain/events";
export type { JobStats } from "@ballast/common/domain/stats";
export type { JobStatus, ResourceState, StageStatus } from "@ballast/common/domain/states";
export type { ApplicationView, ExecutorView, JobView, NodeView, StageView } from "@ballast/common/domain/views";

// ---------------------------------------------------------------- inputs

export interface ExecutorDescription {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  /**
   * Of `slots`, how many are the executor's queue: tasks beyond its worker threads,
   * started in launch order, so its newest that many have not started (take-back).
   * Absent or 0: every task may be running, none is taken back.
   */
  queuedSlots?: number;
  shuffleAddress: string;
  /** On reconnect after a scheduler failover: the tasks still running there. */
  runningTaskIds?: string[];
  /** The cached partitions it holds in memory (reconciled into the registry on every registration). */
  cachedPartitions?: CachedPartitionRef[];
  /** The cached partitions its node's shuffle service holds on disk (absent: it could not tell). */
  cachedOnDisk?: CachedPartitionRef[];
  /** Applications whose supervised driver runs there (absent: it could not tell). */
  runningDrivers?: string[];
}

/** What an executor reports about one of its tasks (a "taskUpdate" input, or one of a "taskUpdates" batch). */
export interface TaskReport {
  taskId: string;
  state: TaskState;
  mapStatus?: MapStatus;
  /** collect: msgpack-encoded array of the partition's records. */
  records?: Uint8Array;
  count?: number;
  failure?: TaskFailure;
  metrics?: TaskMetrics;
  /** Partitions of persisted datasets the attempt kept (the cache registry records them). */
  cachedWrites?: CachedPartitionWrite[];
}

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
      /** The driver program's application the job is an action of (absent for a job(...) file). */
      applicationId?: string;
    }
  | { type: "cancelJob"; jobId: string; reason: string }
  /** A driver program registered its application (applications.ts); registering an id again changes nothing. */
  | ({ type: "applicationRegistered" } & Pick<ApplicationView, "applicationId" | "name" | "user" | "bundleDigest" | "args" | "conf" | "detached">)
  /** Its driver program ended: its retention starts; a cancelled one's running jobs are cancelled with it. */
  | { type: "applicationFinished"; applicationId: string; status: Exclude<JobStatus, "running">; error: string }
  /** A detached application's supervised driver process exited (drivers.ts). */
  | { type: "driverExited"; executorId: string; applicationId: string; attempt: number; exitCode: number; reason: string }
  /** unpersist(): forget the application's cached partitions of the dataset (cache.ts) and remove their disk copies. */
  | { type: "datasetUnpersisted"; applicationId: string; cacheKey: string }
  | { type: "executorRegistered"; executor: ExecutorDescription }
  | { type: "executorLost"; executorId: string; reason: string }
  | { type: "heartbeat"; executorId: string; runningTaskIds: string[] }
  /** The executor evicted these memory copies (its cache budget). */
  | { type: "cachedPartitionsDropped"; executorId: string; partitions: CachedPartitionRef[] }
  | ({ type: "taskUpdate"; executorId: string } & TaskReport)
  /**
   * An executor's task updates of one session message, applied in order in one step: the shell
   * pays its per-input costs (a log row, a step's passes, a flush) once per message, not per task.
   */
  | { type: "taskUpdates"; executorId: string; updates: TaskReport[] }
  /**
   * The executor's answer to revokeTask commands (take-back): the revoked tasks were still
   * queued there and are dropped, never started; the started ones run on and report as usual.
   */
  | { type: "revokeAnswered"; executorId: string; revokedTaskIds: string[]; startedTaskIds: string[] }
  /** An attempt asks to commit its output partition; answered by a commitDecision command. */
  | { type: "commitRequested"; taskId: string; requestId: string }
  /** The shell carried out a commitJobOutput command: the job succeeds, or fails with `error` (its output left invalid). */
  | { type: "jobOutputCommitted"; jobId: string; error?: string }
  /** Time passed: heartbeat timeouts, delayed resubmissions. The shell sends one every ~100ms. */
  | { type: "tick" }
  /**
   * The shell found a node's shuffle service unreachable (it probes after a
   * probeShuffleService command): every map output there is lost; recompute
   * proactively, batched with other losses inside ballast.scheduler.resubmitDelay.
   */
  | { type: "shuffleServiceLost"; nodeId: string; shuffleAddress: string; reason: string }
  /** The probed shuffle service still serves (its outputs stay); batched resubmissions stop waiting for it. */
  | { type: "shuffleServiceAnswered"; nodeId: string; shuffleAddress: string }
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

export type Command =
  | { type: "launchTask"; executorId: string; task: TaskLaunch }
  | { type: "killTask"; executorId: string; taskId: string; reason: string }
  /** Take-back: drop the task if it is still queued there (answered by revokeAnswered). */
  | { type: "revokeTask"; executorId: string; taskId: string; reason: string }
  | { type: "commitDecision"; requestId: string; taskId: string; allowed: boolean }
  /**
   * Job-level output commit (saveAsTextFile): promote each partition's committed
   * attempt output (`parts[p]` is its task id) from OUT/_temporary/<taskId>/ to OUT,
   * write _SUCCESS, remove _temporary; answered by jobOutputCommitted. Idempotent:
   * re-sent after a failover while the job is committing. `owner`: who submitted the job (a
   * staging:// output lives in that user's space); absent for jobs the cluster submitted.
   */
  | { type: "commitJobOutput"; jobId: string; outputUri: string; parts: string[]; owner?: string }
  /** A saveAsTextFile job failed or was cancelled: its attempts' uncommitted output goes (best effort). */
  | AbortJobOutput
  /** Persist and ship to history. */
  | { type: "emitEvent"; event: HistoryEvent }
  /** The job's view changed (progress, end): push it to watchers. */
  | { type: "jobChanged"; jobId: string }
  /** An executor was lost: check whether its node's shuffle service is gone too (answer with shuffleServiceLost or shuffleServiceAnswered). */
  | { type: "probeShuffleService"; nodeId: string; shuffleAddress: string }
  /** Start migrating a decommissioning node's map outputs to these peers (answered by mapOutputMigrated / migrationFinished). */
  | { type: "migrateShuffle"; nodeId: string; shuffleAddress: string; peers: Array<{ nodeId: string; shuffleAddress: string }> }
  /** Drop the executor's session (declared lost while its stream looked alive, e.g. SIGSTOP): it must re-register. */
  | { type: "closeSession"; executorId: string; reason: string }
  /** killExcludedExecutors: ask the executor process to exit. */
  | { type: "shutdownExecutor"; executorId: string; reason: string }
  /** unpersist(): the executor frees the dataset's memory copies. */
  | { type: "freeCachedDataset"; executorId: string; applicationId: string; cacheKey: string }
  /** Run the detached application's driver program on the executor, as `user` (its submitter; "" for the cluster's own). */
  | { type: "launchDriver"; executorId: string; applicationId: string; attempt: number; user: string }
  /** Stop the driver process of the application on the executor: it is not (or no longer) placed there. */
  | { type: "stopDriver"; executorId: string; applicationId: string; reason: string }
  /** The ended job left the scheduler's state (retention): the shell forgets its records of it too. */
  | { type: "jobEvicted"; jobId: string }
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

/** Removes what an unsuccessful job's attempts left under OUT/_temporary (best effort: none of it looks valid). */
export interface AbortJobOutput {
  type: "abortJobOutput";
  jobId: string;
  outputUri: string;
  owner?: string;
}
