/**
 * The scheduler core's internal state. Plain data (Maps, Sets, arrays, typed
 * arrays; no functions, no cross-object references), so `structuredClone`
 * can snapshot it. Only the core mutates it, through `step()`.
 */
import { resolveConf, type Conf } from "@ballast/common/config";
import type {
  AbortJobOutput,
  ApplicationView,
  ErrorView,
  ExecutorDescription,
  JobStats,
  JobStatus,
  JobView,
  MapStatus,
  Plan,
  ShuffleReadSpec,
  StageStatus,
  TaskIdentity,
} from "./types.js";

export interface ExecutorState {
  description: ExecutorDescription;
  alive: boolean;
  /** Live task ids on it (including abandoned ones still holding a slot). */
  running: Set<string>;  // maintained by tasks.ts (launch, release)
  registeredAtMs: number;
  lastSeenMs: number;
  lostReason: string;
  /** Application-level (cluster-wide) exclusion: excluded while non-zero (expires on tick). */
  excludedUntilMs: number;
  excludedReason: string;
  /** Times of task failures in successful stage attempts, toward application-level exclusion. */
  failureTimes: number[];
  /** After a scheduler failover: lost unless it re-registers by then (0: not waiting). */
  reconnectDeadlineMs: number;
  /** After a re-registration: tasks it does not list are not declared lost before this. */
  graceUntilMs: number;
}

export interface DecommissionState {
  phase: "decommissioning" | "decommissioned";
  deadlineMs: number;
  reason: string;
  requestedAtMs: number;
  drained: boolean;
  /** migrateShuffle was sent (to these peers). */
  migrating: boolean;
  peers: string[];
  migratedOutputs: number;
  migratedBytes: number;
}

export interface NodeState {
  nodeId: string;
  shuffleAddress: string;
  /** Every executor ever registered on it, in registration order. */
  executorIds: string[];
  /** Its shuffle service is gone (until a fresh registration). */
  lost: boolean;
  lostReason: string;
  /** Application-level (or failure-score) exclusion: excluded while non-zero. */
  excludedUntilMs: number;
  excludedReason: string;
  /** Cross-job failure score: exponentially decayed counts of task attempts, as of `atMs`. */
  score: { failed: number; total: number; atMs: number };
  /** Kept after the node is lost, so its fetch failures are still known as decommission's. */
  decommission?: DecommissionState;
  /** Its shuffle service is being probed (an executor there was lost): resubmissions wait for the verdict until then. */
  probeVerdictDueMs?: number;
}

/** A launched attempt: who it is (as its launch named it), where it runs, since when. */
export interface LiveTask extends TaskIdentity {
  executorId: string;
  launchedAtMs: number;
  /**
   * Ended as far as the job is concerned (killed by us, job over); the
   * executor still holds its slot until it reports or is lost.
   */
  abandoned: boolean;
  /**
   * Take-back (takeBack.ts): set while a revokeTask is unanswered, to the executor it is meant
   * to move to ("" when its own may not start it). It still holds its slot there meanwhile.
   */
  revokingFor?: string;
  /** Its executor answered a revoke with "already started": it is never asked back again. */
  started?: boolean;
}

/** One partition's progress inside one stage attempt. */
export interface PartitionRun {
  /**
   * idle: its task ended without output and it is not queued (yet);
   * denied: another attempt holds the commit; wait for it rather than retry.
   */
  state: "pending" | "running" | "done" | "idle" | "denied";
  /** Failures counted toward ballast.task.maxFailures in this stage attempt. */
  failures: number;
  /** Executors lost under it in this stage attempt (not counting node loss or decommission): also bounded by maxFailures. */
  losses: number;
  /** One entry per counted failure, oldest first (task-level exclusion). */
  failedExecutors: string[];
  failedNodes: string[];
  /**
   * Set when a speculative copy is launched (speculation.ts): the original
   * and the copy racing for the partition. The first to succeed wins and the
   * other is killed; while one of them is live, the other's end requeues nothing.
   */
  racing?: [original: string, copy: string];
}

/** Spark's task-set exclusion: per executor, the partitions that failed there and when. */
export interface ExecutorFailures {
  nodeId: string;
  partitions: number[];
  times: number[];
}

export interface StageAttempt {
  attempt: number;
  /** running: launches tasks; failed: a zombie (its running tasks may still finish). */
  status: StageStatus;
  partitions: number[];
  runs: Map<number, PartitionRun>;
  /** Partitions never launched in this attempt, consumed from queueHead. */
  queue: number[];
  queueHead: number;
  /** Partitions to relaunch (after a failure or a lost executor); served first. */
  retries: number[];
  execFailures: Map<string, ExecutorFailures>;
  /** Stage-level exclusions (this attempt only). */
  excludedExecutors: Set<string>;
  excludedNodes: Set<string>;
  /** When it was first found unable to run anywhere because of exclusions (-1: it can run). */
  unschedulableSinceMs: number;
  /** Durations of its tasks that succeeded (their median estimates when a running task ends). */
  successDurations: number[];
}

export interface StageState {
  stageId: number;
  name: string;
  datasetId: number;
  numPartitions: number;
  parentStageIds: number[];
  /** Shuffle indexes the stage's pipeline reads. */
  shuffleReads: number[];
  /** Map stages: the shuffle index they write. */
  shuffleWrite?: number;
  /** Sample stages: the range-partitioned shuffle they sample for (their results are its key sample). */
  sampleFor?: number;
  status: StageStatus;
  attempts: StageAttempt[];
  failedAttempts: number;
  /** Failed attempts since the last success, with their causes. */
  consecutiveFailures: number;
  failureCauses: string[];
  /** Why the next attempt is needed (shown in stageResubmitted). */
  resubmitReason: string;
  /** Per partition: 1 once it produced output (to count recomputations). */
  everSucceeded: Uint8Array;
  /** Next attempt number per partition, unique across stage attempts. */
  nextTaskAttempt: Uint32Array;
  runningTasks: number;
  /** Result and sample stages: per partition output. */
  results?: Array<{ records?: Uint8Array; count: number; taskId: string } | undefined>;
  resultsDone: number;
}

export interface ShuffleState {
  shuffleId: string;
  shuffleIndex: number;
  mapStageId: number;
  /** Range-partitioned shuffles: the stage whose results are the key sample every map launch carries. */
  sampleStageId?: number;
  numMaps: number;
  numReducePartitions: number;
  outputs: Array<MapStatus | undefined>;
  /** When each output was registered (or repointed) at its current address. */
  registeredAtMs: number[];
  registered: number;
  /** Cached locations for launches; dropped whenever outputs change. */
  readSpec?: ShuffleReadSpec;
}

/** Where one cached partition of a persisted dataset lives (cache.ts); "" where it does not. */
export interface CachedPartitionState {
  memoryExecutorId: string;
  diskNodeId: string;
  diskShuffleAddress: string;
  bytes: number;
}

/** One action of an application: its latest job, and that job's view as it ended (kept after the job is evicted). */
export interface ActionRecord {
  jobId: string;
  /** Set when the job ended; its stages are left out (only the result, stats and error are needed again). */
  ended?: JobView;
}

/**
 * A driver program's application (applications.ts): what `ballast attach`
 * needs to run it again, and every action's recorded result, held until the
 * application ends plus ballast.scheduler.applicationRetention.
 */
export interface ApplicationState extends Omit<ApplicationView, "actions"> {
  /** By action index (a Map: a client's index cannot make a sparse array huge). */
  actions: Map<number, ActionRecord>;
  /** Collected bytes of the ended views kept, bounded by ballast.scheduler.applicationResults. */
  recordedBytes: number;
}

export interface JobState {
  jobId: string;
  name: string;
  /** The driver program's application the job is an action of ("" for a job(...) file). */
  applicationId: string;
  plan: Plan;
  bundleDigest: string;
  /** baseConf + the job's overrides, as sent to executors. */
  rawConf: Record<string, string>;
  conf: Conf;
  traceparent: string;
  status: JobStatus;
  submittedAtMs: number;
  finishedAtMs: number;
  stages: StageState[];
  resultStageId: number;
  /** By shuffle index; undefined for shuffles the final dataset does not need. */
  shuffles: Array<ShuffleState | undefined>;
  /** Stage ids with a running (non-zombie) attempt, in start order. */
  activeStages: Set<number>;
  /** Live, non-abandoned task ids. */
  liveTasks: Set<string>;
  /** Set while fetch failures are being batched; when the resubmission fires. */
  resubmitAtMs?: number;
  /** Result stage done, output commit (commitJobOutput) under way: the job ends when the shell answers. */
  committing: boolean;
  /** "<stageId>:<partition>" -> the task id allowed to commit. */
  commitAuth: Map<string, string>;
  shuffleAddresses: Set<string>;
  stats: JobStats;
  error?: ErrorView;
  result?: JobView["result"];
}

/**
 * The shape version of SchedulerState as snapshots store it. Bump it whenever
 * the state's fields change: the shell then ignores older snapshots. The log
 * is compacted behind each snapshot, so a scheduler of a new format replays
 * the full log only while no snapshot was taken; after one it starts empty
 * (shell.ts says so in its log). Upgrade a drained cluster.
 */
export const STATE_FORMAT = 8;

/**
 * What a timer does when it fires (timers.ts keeps them ordered; handlers.ts fires them):
 * heartbeat: executor `key` is lost (heartbeat timeout or missed reconnect);
 * executorExclusion / nodeExclusion: the exclusion of `key` expires;
 * unschedulable: job/stage `key` ("<jobId>/<stageId>") aborts, exclusions left it nowhere to run;
 * decommissionDeadline: node `key`'s decommission expires;
 * resubmit: job `key`'s batching window for lost outputs closes;
 * speculativeCopy: a straggler on decommissioning node `key` is due a copy;
 * stragglerCopy: a slow task of job/stage `key` outruns the speculation threshold (ballast.speculation.*);
 * taskTimeout: task `key` has run for ballast.task.timeout;
 * jobEviction: ended job `key` leaves the state (retention.ts);
 * applicationEviction: ended application `key` leaves the state (applications.ts).
 */
export type TimerKind =
  | "heartbeat"
  | "executorExclusion"
  | "nodeExclusion"
  | "unschedulable"
  | "decommissionDeadline"
  | "resubmit"
  | "speculativeCopy"
  | "stragglerCopy"
  | "taskTimeout"
  | "jobEviction"
  | "applicationEviction";

export interface TimerEntry {
  dueMs: number;
  kind: TimerKind;
  key: string;
}

export interface SchedulerState {
  baseConf: Record<string, string>;
  conf: Conf;
  /** The `now` of the latest step (views use it for running jobs' wall time). */
  nowMs: number;
  jobs: Map<string, JobState>;
  /** Running job ids, FIFO by submission. */
  runningJobs: Set<string>;
  /** Ended job ids still held, oldest end first (retention.ts evicts them). */
  endedJobs: string[];
  executors: Map<string, ExecutorState>;
  tasks: Map<string, LiveTask>;
  nodes: Map<string, NodeState>;
  /** Nodes in phase decommissioning (checked after every step for drain and deadline). */
  decommissioning: Set<string>;
  /** Latest recoveryStarted epoch (0: never failed over). */
  epoch: number;
  /** Keys of the "scheduler.failover" spans of the latest failover, ended at the first launch after it. */
  failoverSpanKeys: string[];
  /**
   * Every pending timer, ordered by (dueMs, kind, key): nextDueMs is the
   * first entry, and a tick fires exactly the due ones (timers.ts).
   */
  timers: TimerEntry[];
  /** Shuffle addresses of nodes that went through decommission (fetch failures there are decommission's). */
  decommissionedAddresses: Set<string>;
  /** The cache registry (cache.ts): "<applicationId>/<cacheKey>" -> partition -> where it lives. */
  cache: Map<string, Map<number, CachedPartitionState>>;
  /** Driver programs' applications by id (applications.ts), outliving their jobs. */
  applications: Map<string, ApplicationState>;
  /**
   * Ended jobs' output aborts, held while a task of the job is still on an executor: an attempt
   * authorized before the end may still be naming its part under _temporary (jobs.ts).
   */
  pendingOutputAborts: Map<string, AbortJobOutput>;
}

export function createState(baseConf: Record<string, string> = {}): SchedulerState {
  return {
    baseConf: { ...baseConf },
    conf: resolveConf({ ...baseConf }, {}),
    nowMs: 0,
    jobs: new Map(),
    runningJobs: new Set(),
    endedJobs: [],
    executors: new Map(),
    tasks: new Map(),
    nodes: new Map(),
    decommissioning: new Set(),
    epoch: 0,
    failoverSpanKeys: [],
    timers: [],
    decommissionedAddresses: new Set(),
    cache: new Map(),
    applications: new Map(),
    pendingOutputAborts: new Map(),
  };
}

// ------------------------------------------------------------ small queries

export function activeAttempt(stage: StageState): StageAttempt | undefined {
  const latest = stage.attempts[stage.attempts.length - 1];
  return latest?.status === "running" ? latest : undefined;
}

export function outputsAvailable(job: JobState, stage: StageState): number {
  return stage.shuffleWrite === undefined ? stage.resultsDone : job.shuffles[stage.shuffleWrite]!.registered;
}

export function isStageComplete(job: JobState, stage: StageState): boolean {
  return outputsAvailable(job, stage) === stage.numPartitions;
}

export function hasOutput(job: JobState, stage: StageState, partition: number): boolean {
  if (stage.shuffleWrite === undefined) return stage.results![partition] !== undefined;
  return job.shuffles[stage.shuffleWrite]!.outputs[partition] !== undefined;
}

export function commitKey(stageId: number, partition: number): string {
  return `${stageId}:${partition}`;
}
