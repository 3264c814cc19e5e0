/**
 * The contract between a job bundle and the engine. Everything the engine
 * needs is reachable from the JobDefinition object, because the bundle holds
 * its own copy of the SDK (no instanceof checks or registries across copies).
 */
import type { DriverPosition, Plan } from "@ballast/common/plan";

export type { DriverPosition, Plan };

export interface PlanOptions {
  args: string[];
  inputSize: (uri: string) => number;
  /** Apps only: the action whose plan to build. */
  driver?: DriverPosition;
}

/** What the engine hands back for one job: the action's records, count or output URI. */
export interface RawActionResult {
  records?: unknown[];
  count?: number;
  outputUri?: string;
}

export interface AppRunOptions {
  args: readonly string[];
  inputSize: (uri: string) => number;
  /** Raw results of the first actions, answered without running them (a replay). */
  recorded?: RawActionResult[];
  /**
   * Where the program called each recorded action, when known (resuming an
   * application): a replay that calls a different one there is not deterministic.
   */
  recordedCallSites?: readonly string[];
  /** Runs one action's job to its end; a rejection fails the action where the program awaits it. */
  runJob(built: BuiltJob, actionIndex: number): Promise<RawActionResult>;
  /** unpersist() of a persisted dataset (by its cache key): the host drops its kept partitions. */
  unpersist?(cacheKey: string): void;
}

/** What app(name, program) returns: a driver program of many actions. */
export interface AppDefinition {
  readonly kind: "ballast-app";
  readonly name: string;
  /** Runs the driver program and resolves with what it returns. */
  run(options: AppRunOptions): Promise<unknown>;
  /** Executors: replays the program to options.driver's action and returns that job. */
  buildPlan(options: PlanOptions): Promise<BuiltJob>;
}

export interface JobDefinition {
  readonly kind: "ballast-job";
  readonly name: string;
  /**
   * Evaluates build(ctx) and returns the plan plus a runner for its partitions.
   * Throws JobDefinitionError for misuse; errors thrown by the user's build
   * code propagate as they are.
   */
  buildPlan(options: { args: string[]; inputSize: (uri: string) => number }): BuiltJob;
}

export interface BuiltJob {
  plan: Plan;
  runPartition(task: PartitionTask, io: PartitionIO): PartitionOutput;
}

export interface PartitionTask {
  /** The dataset the stage computes. */
  datasetId: number;
  partition: number;
  /**
   * Map tasks: partition the output by key into numReducePartitions for this
   * shuffle; range-partitioned shuffles also carry their sample stage's result.
   */
  shuffleWrite?: { shuffleIndex: number; numReducePartitions: number; rangeSamples?: readonly Uint8Array[] };
  /** Sample tasks: return a sample of this range-partitioned shuffle's keys (as a collect output). */
  sampleFor?: { shuffleIndex: number };
}

export interface PartitionIO {
  /** Bytes [start, end) of an input file (the host clamps end to the file size). Synchronous. */
  readRange(uri: string, start: number, end: number): Uint8Array;
  /** Every fetched block of this task's reduce partition for a shuffle (one per map output). */
  /** The fetched blocks of a shuffle, in map index order; may read them lazily (iterate once per call). */
  shuffleBlocks(shuffleIndex: number): Iterable<Uint8Array>;
  /** The application's cached partitions of persisted datasets; absent where the host keeps none. */
  cache?: PartitionCache;
  /** Where reduce-side operators may spill; without it they keep everything in memory. */
  spill?: SpillSpace;
}

/** Where a host keeps persisted partitions, by the dataset's cache key. */
export interface PartitionCache {
  read(cacheKey: string, partition: number): Uint8Array | undefined;
  write(cacheKey: string, partition: number, level: StorageLevel, block: Uint8Array): void;
}

/** A task's budget for reduce-side state (aggregations, groups, join sides, sorts) and where the excess goes. */
export interface SpillSpace {
  /** Estimated bytes an operator may hold before it writes a sorted run to disk. */
  memoryLimit: number;
  /** An existing directory of this task's own; the host removes it after the task, however it ends. */
  dir: string;
  /** Called with the size of every run written. */
  onSpill?(bytes: number): void;
}

export type PartitionOutput =
  | { kind: "shuffle"; partitions: Uint8Array[]; recordsOut: number } // index = reduce partition
  | { kind: "collect"; records: Uint8Array; recordsOut: number } // msgpack array of records
  | { kind: "count"; count: number }
  | { kind: "text"; data: Uint8Array; recordsOut: number }; // part-file content

/** What an action returns; the build function returns it. Opaque to users. */
export interface ActionResult {
  readonly kind: "ballast-action";
}

/**
 * What an action returns: in a job, the value its build function returns; in
 * a driver program (app), also a promise of the action's result.
 */
export interface Action<R> extends ActionResult, PromiseLike<R> {}

/** Where persist() keeps a dataset's partitions. */
export type StorageLevel = "memory" | "disk" | "memory_and_disk";

/** Options of wide operations. */
export interface PartitionOptions {
  /** Number of output partitions; default: the max of the parents' partition counts. */
  partitions?: number;
}

/** Options of sortBy and sortByKey. */
export interface SortOptions extends PartitionOptions {
  /** Default true. */
  ascending?: boolean;
}
