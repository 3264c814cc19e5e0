/**
 * The contract between a job bundle and the engine. Everything the engine
 * needs is reachable from the JobDefinition object, because the bundle holds
 * its own copy of the SDK (no instanceof checks or registries across copies).
 */
import type { Plan } from "@ballast/common/plan";

export type { Plan };

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
  shuffleBlocks(shuffleIndex: number): Uint8Array[];
  /** Where reduce-side operators may spill; without it they keep everything in memory. */
  spill?: SpillSpace;
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
