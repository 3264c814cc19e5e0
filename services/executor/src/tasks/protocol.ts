/**
 * Messages between the executor's main thread and its task workers. The
 * partition types mirror the SDK's (packages/sdk) structurally: the bundle
 * carries its own copy of the SDK, so nothing here may depend on one copy.
 */
import type { DriverPosition, InputFile } from "@ballast/common/plan";
import type { FetchedBlock } from "./fetchedBlocks.js";

export interface PartitionTaskSpec {
  datasetId: number;
  partition: number;
  shuffleWrite?: { shuffleIndex: number; numReducePartitions: number; rangeSamples?: Uint8Array[] };
  sampleFor?: { shuffleIndex: number };
}

export type PartitionOutput =
  | { kind: "shuffle"; partitions: Uint8Array[]; recordsOut: number }
  | { kind: "collect"; records: Uint8Array; recordsOut: number }
  | { kind: "count"; count: number }
  | { kind: "text"; data: Uint8Array; recordsOut: number };

/** What every task of a job gives its worker alike: a worker gets it once, with the first such task it runs. */
export interface WorkerJobContext {
  bundlePath: string;
  bundleDigest: string;
  args: string[];
  inputs: InputFile[];
  graphHash: string;
  /** Jobs of an application: the action of the driver program to replay to. */
  driver?: DriverPosition;
}

export interface WorkerTaskRequest {
  type: "run";
  taskId: string;
  job: WorkerJobContext;
  /** Input URI -> local file the worker reads ranges from (by the task's dataset, so per task). */
  localPaths: Record<string, string>;
  task: PartitionTaskSpec;
  /** Fetched blocks of this task's reduce partition, per shuffle index, in map index order: in memory, or where on disk. */
  blocks: Record<number, FetchedBlock[]>;
  /** Reduce-side memory budget and this task's spill dir (the runner creates and removes it). */
  spill: { memoryLimit: number; dir: string };
  /** Cached partitions of persisted datasets the task may read, by "<cacheKey>/<partition>" (absent: none). */
  cached?: Record<string, Uint8Array>;
}

/**
 * A request as it crosses postMessage: the job by a number, and its context only when the worker
 * did not get that number last (cloning the bundle path, digest, args and inputs for every task
 * was a tenth of the executor's postMessage cost on empty tasks).
 */
export interface WorkerTaskMessage extends Omit<WorkerTaskRequest, "job"> {
  jobNumber: number;
  job?: WorkerJobContext;
}

/** A partition of a persisted dataset the task computed, for the executor to keep. */
export interface CacheBlockWrite {
  cacheKey: string;
  partition: number;
  level: "memory" | "disk" | "memory_and_disk";
  block: Uint8Array;
}

/** What the task did with cached partitions: how many it read, and what it computed to keep. */
export interface CacheActivity {
  reads: number;
  writes: CacheBlockWrite[];
}

/** What a task spilled to disk. */
export interface SpillCounts {
  spills: number;
  spilledBytes: number;
}

/** Why a task failed inside the worker: all are the job's fault, not the executor's. */
export type WorkerErrorKind = "user_error" | "nondeterministic_graph" | "invalid_bundle";

export type WorkerTaskResponse =
  | { type: "done"; taskId: string; output: PartitionOutput; inputBytes: number; spilled: SpillCounts; cache: CacheActivity }
  | { type: "failed"; taskId: string; errorKind: WorkerErrorKind; message: string; stack: string };

/**
 * Prepares byte arrays for postMessage without copying where possible: a view
 * that owns its whole ArrayBuffer is transferred; any other view (a slice of
 * a larger or pooled buffer, which structured clone would copy whole, and
 * which must not be detached) is copied to a buffer of its own first.
 */
export function prepareTransfer(views: Uint8Array[]): { views: Uint8Array[]; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const prepared = views.map((view) => {
    const owned = view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && !transfer.has(view.buffer);
    const result = owned ? view : new Uint8Array(view); // copies (Buffer#slice would not)
    transfer.add(result.buffer as ArrayBuffer);
    return result;
  });
  return { views: prepared, transfer: [...transfer] };
}

/** prepareTransfer for the in-memory ones of fetched blocks grouped by shuffle index (those on disk travel as their place). */
export function prepareBlocksTransfer(blocks: Record<number, FetchedBlock[]>): { blocks: Record<number, FetchedBlock[]>; transfer: ArrayBuffer[] } {
  const entries = Object.entries(blocks);
  const inMemory = entries.flatMap(([, list]) => list.filter((block) => block instanceof Uint8Array));
  const { views, transfer } = prepareTransfer(inMemory);
  const prepared: Record<number, FetchedBlock[]> = {};
  let next = 0;
  for (const [index, list] of entries) prepared[Number(index)] = list.map((block) => (block instanceof Uint8Array ? views[next++] : block));
  return { blocks: prepared, transfer };
}
