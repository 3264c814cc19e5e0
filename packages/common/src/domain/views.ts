/**
 * What the scheduler shows of its jobs, executors and nodes (its RPC answers
 * and watch streams); the CLI reads the same shapes back.
 */
import type { ActionKind } from "../plan.js";
import type { ErrorView, ExecutorDetails } from "./events.js";
import type { JobStats } from "./stats.js";
import type { JobStatus, ResourceState, StageStatus } from "./states.js";

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

export interface JobResultView {
  action: ActionKind;
  /** collect: one msgpack-encoded array of records per partition. */
  partitionRecords: Uint8Array[];
  count: number;
  outputUri: string;
}

export interface JobView {
  jobId: string;
  name: string;
  /** The driver program's application the job is an action of ("" for a job(...) file). */
  applicationId: string;
  /** Jobs of an application: which action of its program, called where. */
  action?: { index: number; callSite: string };
  /** The program's bundle and arguments (what `ballast attach` runs again). */
  bundleDigest?: string;
  args?: string[];
  status: JobStatus;
  submittedAtMs: number;
  finishedAtMs: number;
  stages: StageView[];
  stats: JobStats;
  error?: ErrorView;
  result?: JobResultView;
}

/** A driver program's application as the scheduler records it (what `ballast attach` runs again, and each action's job). */
export interface ApplicationView {
  applicationId: string;
  name: string;
  user: string;
  bundleDigest: string;
  args: string[];
  conf: Record<string, string>;
  status: JobStatus;
  registeredAtMs: number;
  finishedAtMs: number;
  error?: ErrorView;
  /** Each action's latest job in action order: a running one as it is now, an ended one as it ended (no stages). */
  actions: JobView[];
  /** Its driver runs inside the cluster, supervised by the scheduler (`submit --detach`). */
  detached: boolean;
  /** Where that driver runs and how often it failed (detached applications only). */
  driver?: DriverView;
}

export interface DriverView {
  /** "" while no executor can take it. */
  executorId: string;
  /** Placements so far. */
  attempt: number;
  /** Crash exits and lost hosts, toward ballast.driver.maxFailures. */
  failures: number;
  lastFailure: string;
}

export interface ExecutorView extends ExecutorDetails {
  alive: boolean;
  runningTasks: number;
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
