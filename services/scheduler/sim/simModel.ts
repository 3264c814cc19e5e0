/**
 * The simulated cluster's vocabulary: options and result of a run, the fault
 * kinds, the model of a node (executor + shuffle service), timing constants
 * and the seeded random generator.
 */
import type { Command, Input, JobView, Plan } from "../src/core/types.js";
import { seededRandom } from "@ballast/common/seededRandom";

export type FaultKind = "executorKill" | "nodeLoss" | "twoNodesLost" | "corruptBlock" | "sigstop" | "decommission" | "schedulerCrash" | "cacheEviction";

export interface SimOptions {
  seed: number;
  plan: Plan;
  nodes?: number;
  slots?: number;
  /**
   * Of `slots`, how many each executor registers as its queue, so the core takes tasks back
   * from it. Simulated executors start every task at once: each take-back is of a task that
   * had started, the case that must still commit at most once.
   */
  queuedSlots?: number;
  /** Faults injected at random times in the first `faultWindowMs`, drawn from `faultKinds`. */
  faults?: number;
  faultKinds?: FaultKind[];
  faultWindowMs?: number;
  userErrorRate?: number;
  /** Share of tasks that run for 2-6s instead of 50-400ms (stragglers a decommission deadline may catch). */
  slowTaskRate?: number;
  /** Node n0 fails every task it runs (a bad disk). */
  badNode?: boolean;
  /** Anything but success is a violation (e.g. decommission-only schedules). */
  mustSucceed?: boolean;
  conf?: Record<string, string>;
  maxTimeMs?: number;
  /**
   * A fault-free action #0 caches the first shuffle's output whole first, so
   * the checked job skips the stages below it and its faults lose cached
   * partitions mid-job (they must be recomputed from lineage, only them).
   */
  warmUp?: boolean;
}

export interface SimResult {
  view: JobView;
  violations: string[];
  faultsInjected: number;
  faultCounts: Partial<Record<FaultKind, number>>;
  steps: number;
  endTimeMs: number;
  /** Speculative copies launched off decommissioning nodes, and how many of them won their race. */
  copies: { launched: number; won: number };
  /** Partitions of the persisted dataset in the cache registry at the end. */
  cachedPartitions: number;
  /** Cached partitions a task could not read while its job skipped the stages below them (recomputed from lineage). */
  cachedLostMidJob: number;
  /** Every command, for determinism checks. */
  commands: Command[];
}

export interface Service {
  address: string;
  up: boolean;
  /** "<shuffleId>/<mapIndex>/<attempt>" -> corrupt? */
  blocks: Map<string, boolean>;
}

export interface SimNode {
  index: number;
  nodeId: string;
  generation: number;
  executorId: string;
  executorUp: boolean;
  paused: boolean;
  /** The executor's stream to the scheduler is open. */
  session: boolean;
  service: Service;
  /** Updates waiting for a session (resent after re-registration). */
  buffered: Input[];
  /** What the stopped process will do when continued. */
  deferred: Array<() => void>;
  decommissioning: boolean;
  /** Its disk is gone: it comes back as a new machine (new shuffle address). */
  replaced: boolean;
}

export const JOB_ID = "sim";
/** The fault-free action #0 of warm-up scenarios (SimOptions.warmUp). */
export const WARM_UP_JOB_ID = "sim-warm-up";
export const SIM_APP = "app-sim";
export const TICK_MS = 100;
export const HEARTBEAT_MS = 500;
export const DEFAULT_FAULTS: FaultKind[] = ["executorKill", "nodeLoss", "corruptBlock"];

/** mulberry32: small, fast, good enough for choosing faults. */
export const prng = seededRandom;
