/**
 * Dataset<T>: the user-facing lineage builder. Methods only record nodes in
 * the build's graph; computing happens in runPartition on executors.
 */
import { userCallSite, type CallSite } from "./callSite.js";
import { ActionError, JobDefinitionError } from "./errors.js";
import { firstOf, partialReduce, reduceAll, smallestOf } from "./driverActions.js";
import type { ActionSpec, Graph, Node, NodeSpec, PartitionBehavior, RawActionResult, WideBehavior } from "./graph.js";
import type { Action, PartitionOptions, SortOptions, StorageLevel } from "./types.js";
import {
  filterBehavior,
  flatMapBehavior,
  mapBehavior,
  mapPartitionsBehavior,
  sampleBehavior,
  unionBehavior,
} from "./runtime/narrow.js";
import { expectPair } from "./runtime/shuffleWrite.js";
import {
  aggregateByKeyBehavior,
  cogroupBehavior,
  distinctBehavior,
  fullOuterJoinBehavior,
  groupByKeyBehavior,
  joinBehavior,
  reduceByKeyBehavior,
  repartitionBehavior,
} from "./runtime/wide.js";
import { sortByBehavior, sortByKeyBehavior } from "./runtime/sort.js";
import { checkCount, checkFraction, checkOutputUri, checkPartitionCount, checkStorageLevel } from "./validate.js";

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

  /** Missing values on either side are null. */
  fullOuterJoin<K, V, W>(
    this: Dataset<readonly [K, V]>,
    other: Dataset<readonly [K, W]>,
    options?: PartitionOptions,
  ): Dataset<readonly [K, readonly [V | null, W | null]]> {
    const behavior = fullOuterJoinBehavior();
    return this.wide("fullOuterJoin", [this.own(other, "fullOuterJoin")], options, userCallSite(), behavior);
  }

  /** [key, [values of this dataset, values of other]] for every key of either. */
  cogroup<K, V, W>(
    this: Dataset<readonly [K, V]>,
    other: Dataset<readonly [K, W]>,
    options?: PartitionOptions,
  ): Dataset<readonly [K, readonly [V[], W[]]]> {
    return this.wide("cogroup", [this.own(other, "cogroup")], options, userCallSite(), cogroupBehavior());
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

  /** A shuffle into `partitions` balanced partitions (records dealt round-robin). */
  repartition(partitions: number): Dataset<T> {
    return this.wide("repartition", [], { partitions }, userCallSite(), repartitionBehavior("repartition"));
  }

  /**
   * Fewer partitions; asking for as many or more keeps this dataset. It
   * shuffles like repartition: a narrow coalesce would make one task read
   * several partitions of a shuffle, which stages do not plan yet.
   */
  coalesce(partitions: number): Dataset<T> {
    const callSite = userCallSite();
    if (checkPartitionCount("coalesce", partitions) >= this.numPartitions) return this;
    return this.wide("coalesce", [], { partitions }, callSite, repartitionBehavior("coalesce"));
  }

  /** Each record kept with probability `fraction`; the same seed keeps the same records. */
  sample(fraction: number, seed = 0): Dataset<T> {
    const callSite = userCallSite();
    checkFraction("sample", fraction);
    if (!Number.isSafeInteger(seed)) throw new JobDefinitionError(`sample: seed must be an integer, got ${String(seed)}`);
    const parent = this.node;
    const behavior = sampleBehavior(parent, fraction, seed);
    return this.derive({ op: "sample", parents: [parent], numPartitions: parent.numPartitions, callSite, behavior });
  }

  /**
   * Keeps this dataset's partitions once computed, for the later actions of a
   * driver program ("memory": the executor's; "disk": its node's shuffle
   * service, which outlives the executor; "memory_and_disk": both).
   */
  persist(level: StorageLevel = "memory"): this {
    this.node.storageLevel = checkStorageLevel(level);
    return this;
  }

  cache(): this {
    return this.persist("memory");
  }

  /** Stops keeping the partitions; in a driver program on a cluster, the kept ones are dropped. */
  unpersist(): this {
    this.graph.unpersisted(this.node);
    return this;
  }

  collect(): Action<T[]> {
    return this.act("collect", this.node, userCallSite(), (raw) => raw.records ?? []);
  }

  count(): Action<number> {
    return this.act("count", this.node, userCallSite(), (raw) => raw.count ?? 0);
  }

  /** One part file per partition under `uri` (file:///abs/dir or staging://name). */
  saveAsTextFile(uri: string): Action<string> {
    const callSite = userCallSite();
    checkOutputUri(uri);
    return this.act("saveAsTextFile", this.node, callSite, (raw) => raw.outputUri ?? uri, uri);
  }

  /** The first n records in partition order. */
  take(n: number): Action<T[]> {
    const callSite = userCallSite();
    const partials = this.partials("take", callSite, firstOf(checkCount("take", n)));
    return this.act("collect", partials, callSite, (raw) => (raw.records ?? []).slice(0, n));
  }

  first(): Action<T> {
    const callSite = userCallSite();
    const partials = this.partials("first", callSite, firstOf(1));
    return this.act("collect", partials, callSite, (raw) => {
      if (!raw.records?.length) throw new ActionError("first() of an empty dataset has no result");
      return raw.records[0];
    });
  }

  /** The n records with the smallest keyFn(record) (numbers numerically, others as strings); ties in partition order. */
  takeOrdered(n: number, keyFn: (value: T) => unknown = (value) => value): Action<T[]> {
    const callSite = userCallSite();
    checkFunction("takeOrdered", keyFn);
    const smallest = smallestOf(checkCount("takeOrdered", n), keyFn as (record: unknown) => unknown);
    const partials = this.partials("takeOrdered", callSite, smallest);
    return this.act("collect", partials, callSite, (raw) => smallest(raw.records ?? []));
  }

  reduce(fn: (a: T, b: T) => T): Action<T> {
    const callSite = userCallSite();
    checkFunction("reduce", fn);
    const merge = fn as (a: unknown, b: unknown) => unknown;
    const partials = this.partials("reduce", callSite, partialReduce(merge));
    return this.act("collect", partials, callSite, (raw) => reduceAll(merge, raw.records ?? []));
  }

  /** How many records each key has, as a Map. */
  countByKey<K, V>(this: Dataset<readonly [K, V]>): Action<Map<K, number>> {
    const callSite = userCallSite();
    this.driverOnly("countByKey");
    const ones = this.derive<[unknown, number]>({
      op: "countByKey", parents: [this.node], numPartitions: this.numPartitions, callSite,
      behavior: mapBehavior(this.node, (record) => [expectPair(record, "countByKey")[0], 1]),
    });
    const counts = ones.wide("countByKey", [], undefined, callSite, reduceByKeyBehavior((a, b) => (a as number) + (b as number)));
    return this.act("collect", counts.node, callSite, (raw) => new Map((raw.records ?? []) as [K, number][]));
  }

  private act<R>(action: ActionSpec["action"], node: Node, callSite: CallSite, finish: (raw: RawActionResult) => unknown, outputUri = ""): Action<R> {
    return this.graph.setAction({ action, node, outputUri, callSite, finish }) as unknown as Action<R>;
  }

  /** A hidden dataset of each partition's partial result, which the driver merges. */
  private partials(op: string, callSite: CallSite, partial: (records: Iterable<unknown>) => unknown[]): Node {
    this.driverOnly(op);
    const behavior = mapPartitionsBehavior(this.node, partial);
    return this.graph.add({ op, parents: [this.node], numPartitions: this.numPartitions, callSite, behavior });
  }

  /** Actions merged by the driver need one: a job's result goes to the CLI as the engine returns it. */
  private driverOnly(op: string): void {
    if (!this.graph.isDriverProgram) {
      throw new JobDefinitionError(
        `${op}() returns its result to a driver program: write app("name", async (ctx) => ...) and await it ` +
          "(a job's build function ends with collect, count or saveAsTextFile)",
      );
    }
  }

  private derive<U>(spec: NodeSpec): Dataset<U> {
    return new Dataset<U>(this.graph, this.graph.add(spec));
  }

  private narrow<U>(op: string, fn: unknown, callSite: CallSite, behaviorOf: (parent: Node) => PartitionBehavior): Dataset<U> {
    checkFunction(op, fn);
    const parent = this.node;
    return this.derive({ op, parents: [parent], numPartitions: parent.numPartitions, callSite, behavior: behaviorOf(parent) });
  }

  private wide<U>(
    op: string,
    others: Dataset<unknown>[],
    options: PartitionOptions | undefined,
    callSite: CallSite,
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
