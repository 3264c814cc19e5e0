/**
 * Dataset<T>: the user-facing lineage builder. Methods only record nodes in
 * the build's graph; computing happens in runPartition on executors.
 */
import { userCallSite } from "./callSite.js";
import { JobDefinitionError } from "./errors.js";
import type { Graph, Node, NodeSpec, PartitionBehavior, WideBehavior } from "./graph.js";
import type { ActionResult, PartitionOptions, SortOptions } from "./types.js";
import {
  filterBehavior,
  flatMapBehavior,
  mapBehavior,
  mapPartitionsBehavior,
  unionBehavior,
} from "./runtime/narrow.js";
import {
  aggregateByKeyBehavior,
  distinctBehavior,
  groupByKeyBehavior,
  joinBehavior,
  reduceByKeyBehavior,
} from "./runtime/wide.js";
import { sortByBehavior, sortByKeyBehavior } from "./runtime/sort.js";
import { checkOutputUri, checkPartitionCount } from "./validate.js";

/** Widens literal types (`1` from `as const`) so reducers can return the general type. */
export type Widen<V> = V extends number ? number : V extends string ? string : V extends boolean ? boolean : V;

type AnyFn = (...args: never[]) => unknown;

function checkFunction(op: string, fn: unknown, what = "a function"): void {
  if (typeof fn !== "function") throw new JobDefinitionError(`${op} expects ${what}, got ${typeof fn}`);
}

function ascendingOf(op: string, options: SortOptions | undefined): boolean {
  const ascending = options?.ascending ?? true;
  if (typeof ascending !== "boolean") throw new JobDefinitionError(`${op}: ascending must be a boolean, got ${typeof ascending}`);
  return ascending;
}

export class Dataset<T> {
  /** @internal */
  constructor(
    private readonly graph: Graph,
    /** @internal */ readonly node: Node,
  ) {}

  /** Number of partitions of this dataset. */
  get numPartitions(): number {
    return this.node.numPartitions;
  }

  map<U>(fn: (value: T) => U): Dataset<U> {
    return this.narrow("map", fn, userCallSite(), (parent) => mapBehavior(parent, fn as AnyFn as never));
  }

  flatMap<U>(fn: (value: T) => Iterable<U>): Dataset<U> {
    return this.narrow("flatMap", fn, userCallSite(), (parent) => flatMapBehavior(parent, fn as never));
  }

  filter<S extends T>(fn: (value: T) => value is S): Dataset<S>;
  filter(fn: (value: T) => unknown): Dataset<T>;
  filter(fn: (value: T) => unknown): Dataset<T> {
    return this.narrow("filter", fn, userCallSite(), (parent) => filterBehavior(parent, fn as never));
  }

  mapPartitions<U>(fn: (records: Iterable<T>) => Iterable<U>): Dataset<U> {
    return this.narrow("mapPartitions", fn, userCallSite(), (parent) => mapPartitionsBehavior(parent, fn as never));
  }

  keyBy<K>(fn: (value: T) => K): Dataset<readonly [K, T]> {
    const pairOf = (value: unknown) => [fn(value as T), value];
    return this.narrow("keyBy", fn, userCallSite(), (parent) => mapBehavior(parent, pairOf));
  }

  /** Narrow: the partitions of this dataset followed by those of `other`. */
  union(other: Dataset<T>): Dataset<T> {
    const callSite = userCallSite();
    const parents = [this.node, this.own(other, "union").node];
    const numPartitions = parents[0]!.numPartitions + parents[1]!.numPartitions;
    return this.derive({ op: "union", parents, numPartitions, callSite, behavior: unionBehavior(parents) });
  }

  reduceByKey<K, V>(
    this: Dataset<readonly [K, V]>,
    fn: (a: Widen<V>, b: Widen<V>) => Widen<V>,
    options?: PartitionOptions,
  ): Dataset<readonly [K, Widen<V>]> {
    checkFunction("reduceByKey", fn);
    return this.wide("reduceByKey", [], options, userCallSite(), reduceByKeyBehavior(fn as never));
  }

  groupByKey<K, V>(this: Dataset<readonly [K, V]>, options?: PartitionOptions): Dataset<readonly [K, V[]]> {
    return this.wide("groupByKey", [], options, userCallSite(), groupByKeyBehavior());
  }

  /** zero is copied for every key (structuredClone), so a mutable accumulator is safe. */
  aggregateByKey<K, V, A>(
    this: Dataset<readonly [K, V]>,
    zero: A,
    seqOp: (accumulator: A, value: V) => A,
    combOp: (a: A, b: A) => A,
    options?: PartitionOptions,
  ): Dataset<readonly [K, A]> {
    checkFunction("aggregateByKey", seqOp, "a function as seqOp");
    checkFunction("aggregateByKey", combOp, "a function as combOp");
    const behavior = aggregateByKeyBehavior(zero, seqOp as never, combOp as never);
    return this.wide("aggregateByKey", [], options, userCallSite(), behavior);
  }

  join<K, V, W>(
    this: Dataset<readonly [K, V]>,
    other: Dataset<readonly [K, W]>,
    options?: PartitionOptions,
  ): Dataset<readonly [K, readonly [V, W]]> {
    return this.wide("join", [this.own(other, "join")], options, userCallSite(), joinBehavior("join"));
  }

  /** Missing right values are null (msgpack has no undefined). */
  leftOuterJoin<K, V, W>(
    this: Dataset<readonly [K, V]>,
    other: Dataset<readonly [K, W]>,
    options?: PartitionOptions,
  ): Dataset<readonly [K, readonly [V, W | null]]> {
    const behavior = joinBehavior("leftOuterJoin");
    return this.wide("leftOuterJoin", [this.own(other, "leftOuterJoin")], options, userCallSite(), behavior);
  }

  distinct(options?: PartitionOptions): Dataset<T> {
    return this.wide("distinct", [], options, userCallSite(), distinctBehavior());
  }

  /**
   * Globally sorted by keyFn(record) (see runtime/sortOrder.ts for the order
   * of keys): partition p holds keys below those of p + 1. A sample pass over
   * this dataset picks the key ranges first, so it is computed twice.
   */
  sortBy<K>(keyFn: (value: T) => K, options?: SortOptions): Dataset<T> {
    checkFunction("sortBy", keyFn);
    const behavior = sortByBehavior(keyFn as AnyFn as never, ascendingOf("sortBy", options));
    return this.wide("sortBy", [], options, userCallSite(), behavior);
  }

  /** sortBy on the key of [key, value] pairs. */
  sortByKey<K, V>(this: Dataset<readonly [K, V]>, options?: SortOptions): Dataset<readonly [K, V]> {
    const behavior = sortByKeyBehavior(ascendingOf("sortByKey", options));
    return this.wide("sortByKey", [], options, userCallSite(), behavior);
  }

  collect(): ActionResult {
    return this.graph.setAction({ action: "collect", node: this.node, outputUri: "" });
  }

  count(): ActionResult {
    return this.graph.setAction({ action: "count", node: this.node, outputUri: "" });
  }

  /** One part file per partition under `uri` (file:///abs/dir or staging://name). */
  saveAsTextFile(uri: string): ActionResult {
    checkOutputUri(uri);
    return this.graph.setAction({ action: "saveAsTextFile", node: this.node, outputUri: uri });
  }

  private derive<U>(spec: NodeSpec): Dataset<U> {
    return new Dataset<U>(this.graph, this.graph.add(spec));
  }

  private narrow<U>(op: string, fn: unknown, callSite: string, behaviorOf: (parent: Node) => PartitionBehavior): Dataset<U> {
    checkFunction(op, fn);
    const parent = this.node;
    return this.derive({ op, parents: [parent], numPartitions: parent.numPartitions, callSite, behavior: behaviorOf(parent) });
  }

  private wide<U>(
    op: string,
    others: Dataset<unknown>[],
    options: PartitionOptions | undefined,
    callSite: string,
    wide: WideBehavior,
  ): Dataset<U> {
    const parents = [this.node, ...others.map((other) => other.node)];
    const numPartitions =
      options?.partitions === undefined
        ? Math.max(...parents.map((parent) => parent.numPartitions))
        : checkPartitionCount(op, options.partitions);
    return this.derive({ op, parents, numPartitions, callSite, wide });
  }

  private own<U>(other: Dataset<U>, op: string): Dataset<U> {
    if (other?.graph !== this.graph) {
      throw new JobDefinitionError(`${op} expects a dataset created by the same job`);
    }
    return other;
  }
}
