/**
 * The lineage graph as the SDK holds it while a job is built and run: one
 * Node per dataset, carrying both its plan description and the functions
 * that compute its partitions. Rebuilt from scratch for every buildPlan call.
 */
import { withCallSite, type CallSite } from "./callSite.js";
import { JobDefinitionError } from "./errors.js";
import { cacheKeyOf, throughCache } from "./runtime/persisted.js";
import type { ActionKind } from "@ballast/common/plan";
import type { PartitionIO, RawActionResult, SpillSpace, StorageLevel } from "./types.js";

export type { RawActionResult };

export type Sink = (record: unknown) => void;
/** A string record as its UTF-8 bytes, `bytes[start, end)`, without making the string. */
export type LineBytesSink = (bytes: Buffer, start: number, end: number) => void;

/** How a dataset computes one partition: push (fast, fused) and pull (for mapPartitions). */
export interface PartitionBehavior {
  /**
   * `lineBytes` (text output only): a behavior that holds a string record as UTF-8 bytes may hand
   * it there instead of to `sink`, in record order, which saves decoding it only to encode it again.
   */
  forEach(partition: number, io: PartitionIO, sink: Sink, lineBytes?: LineBytesSink): void;
  iterate(partition: number, io: PartitionIO): Iterable<unknown>;
  /**
   * For a sort's key sample: pushes records from parts spread over the whole partition, without
   * reading the rest, and returns how many records of the partition each one stands for; or
   * pushes nothing and returns undefined when the partition cannot be read in parts (the sample
   * then reads all of it). Only sources that can (text files) and per-record operations over
   * them offer it.
   */
  forEachSample?(partition: number, io: PartitionIO, sink: Sink): number | undefined;
}

/** Receives the map-side records of one shuffle and encodes one block per reduce partition. */
export interface ShuffleWriter {
  add: Sink;
  finish(): { partitions: Uint8Array[]; recordsOut: number };
}

/** The two halves of a wide operation. */
export interface WideBehavior {
  /**
   * Map side of the shuffle from the parent at `parentPosition`; range
   * partitioned ops also get the shuffle's recorded sample blocks.
   */
  mapSideWriter(parentPosition: number, numReducePartitions: number, rangeSamples?: readonly Uint8Array[]): ShuffleWriter;
  /** Reduce side: merge the fetched blocks of every parent's shuffle. */
  reduce(blocksOf: (parentPosition: number) => Iterable<Uint8Array>, sink: Sink, spill?: SpillSpace, lineBytes?: LineBytesSink): void;
  /**
   * Range-partitioned ops (sortBy): the checked sort key of a map-side
   * record. Its presence makes the shuffle range partitioned, and sample tasks
   * sample what it returns.
   */
  sortKeyOf?: (record: unknown) => unknown;
}

export interface NodeSpec {
  op: string;
  parents: Node[];
  numPartitions: number;
  callSite: CallSite;
  uri?: string;
  /** textFile only: the input's size in bytes. */
  inputSize?: number;
  /** Extra material hashed into graphHash (e.g. parallelized data), never in the plan. */
  fingerprint?: () => string;
  behavior?: PartitionBehavior;
  wide?: WideBehavior;
}

export interface Node extends Required<Omit<NodeSpec, "behavior" | "wide" | "fingerprint" | "callSite">> {
  /** The user's call site, formatted when first read. */
  readonly callSite: string;
  /** Creation order within the build. */
  readonly seq: number;
  /** Plan id, assigned when the plan is assembled. */
  id: number;
  /** Wide nodes: Plan.shuffles index per parent position, assigned with the plan. */
  shuffleIndices: number[];
  fingerprint?: () => string;
  behavior: PartitionBehavior;
  wide?: WideBehavior;
  /** Set by persist(); "none" when the dataset is not kept. */
  storageLevel: StorageLevel | "none";
}

export interface ActionSpec {
  readonly kind: "ballast-action";
  action: ActionKind;
  node: Node;
  outputUri: string;
  /** The user's call site, so a driver program's actions can be told apart (formatted when first read). */
  readonly callSite: string;
  /** Turns the engine's result into what the user's action returns (take, reduce... merge per-partition results here). */
  finish(raw: RawActionResult): unknown;
}

/**
 * Runs an action of a driver program (app) and resolves with its finished
 * result. Absent for job(), whose build function ends with its one action.
 */
export type ActionRunner = (action: ActionSpec) => Promise<unknown>;

/** One build's graph: creates nodes, remembers the action, refuses use after the build. */
export class Graph {
  private readonly nodes: Node[] = [];
  private closed = false;
  action: ActionSpec | undefined;

  constructor(
    readonly jobName: string,
    private readonly runAction?: ActionRunner,
    /** Driver programs: told when a persisted dataset is unpersisted, so the cluster drops its partitions. */
    private readonly onUnpersist?: (cacheKey: string) => void,
  ) {}

  /** unpersist() of a node that was persisted. */
  unpersisted(node: Node): void {
    if (node.storageLevel !== "none") this.onUnpersist?.(cacheKeyOf(node));
    node.storageLevel = "none";
  }

  /** True inside an app's driver program, where actions are awaited. */
  get isDriverProgram(): boolean {
    return this.runAction !== undefined;
  }

  add(spec: NodeSpec): Node {
    this.checkOpen();
    const fields: Omit<Node, "callSite"> = {
      op: spec.op,
      parents: spec.parents,
      numPartitions: spec.numPartitions,
      uri: spec.uri ?? "",
      inputSize: spec.inputSize ?? 0,
      fingerprint: spec.fingerprint,
      seq: this.nodes.length,
      id: -1,
      shuffleIndices: [],
      behavior: NO_BEHAVIOR,
      wide: spec.wide,
      storageLevel: "none",
    };
    const node: Node = withCallSite(fields, spec.callSite);
    node.behavior = throughCache(node, spec.wide ? readsShuffles(node, spec.wide) : spec.behavior ?? NO_BEHAVIOR);
    this.nodes.push(node);
    return node;
  }

  /**
   * Records the action. In a job it is the one action the build returns; in a
   * driver program it runs at once and the returned spec is also a promise of
   * its result (so `await ds.count()` works).
   */
  setAction({ callSite, ...action }: Omit<ActionSpec, "kind" | "callSite"> & { callSite: CallSite }): ActionSpec {
    this.checkOpen();
    if (this.runAction) {
      const spec: ActionSpec = withCallSite({ kind: "ballast-action" as const, ...action }, callSite);
      const result = this.runAction(spec);
      return Object.assign(spec, { then: result.then.bind(result) });
    }
    if (this.action) {
      throw new JobDefinitionError(
        `job "${this.jobName}": an action (${this.action.action}) was already called; a job runs exactly one action`,
      );
    }
    this.action = withCallSite({ kind: "ballast-action" as const, ...action }, callSite);
    return this.action;
  }

  close(): void {
    this.closed = true;
  }

  checkOpen(): void {
    if (this.closed && this.runAction) {
      throw new JobDefinitionError(`app "${this.jobName}": datasets can only be defined while the driver program runs`);
    }
    if (this.closed) {
      throw new JobDefinitionError(
        `job "${this.jobName}": datasets can only be defined while the build function runs (is it async?)`,
      );
    }
  }
}

const NO_BEHAVIOR: PartitionBehavior = { forEach: () => undefined, iterate: () => [] };

/** A wide dataset's partition p is reduce partition p of each of its shuffles. */
function readsShuffles(node: Node, wide: WideBehavior): PartitionBehavior {
  const forEach = (_partition: number, io: PartitionIO, sink: Sink, lineBytes?: LineBytesSink): void =>
    wide.reduce((position) => io.shuffleBlocks(node.shuffleIndices[position]!), sink, io.spill, lineBytes);
  return {
    forEach,
    iterate(partition, io) {
      const records: unknown[] = [];
      forEach(partition, io, (record) => records.push(record));
      return records;
    },
  };
}
