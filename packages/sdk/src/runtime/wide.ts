/**
 * Wide operations: what the map side writes (with map-side combine where the
 * op allows) and how the reduce side merges the fetched blocks by key.
 */
import type { Sink, WideBehavior } from "../graph.js";
import { forEachRecordIn } from "./codec.js";
import { KeyedMap } from "./keys.js";
import type { SpillSpace } from "../types.js";
import { compareEntries, SpillingKeyedMerge, type MergeOps } from "./spillingKeyedMerge.js";
import { CombiningWriter, PartitionedWriter } from "./shuffleWrite.js";

type Pair = [unknown, unknown];
type Merge = (a: unknown, b: unknown) => unknown;
const identity = <T>(value: T): T => value;

function forEachPairIn(blocks: Iterable<Uint8Array>, visit: (key: unknown, value: unknown) => void): void {
  for (const block of blocks) {
    forEachRecordIn(block, (record) => visit((record as Pair)[0], (record as Pair)[1]));
  }
}

/** Reduce side shared by ops that merge values per key, then emit [key, merged]. */
function mergeByKey<C>(blocks: Iterable<Uint8Array>, ops: MergeOps<C>, sink: Sink, spill: SpillSpace | undefined): void {
  const merged = new SpillingKeyedMerge(ops, spill);
  forEachPairIn(blocks, (key, value) => merged.add(key, value));
  merged.forEach((key, value) => sink([key, value]));
}

/** Ops whose merged value is one combined value per key (reduceByKey, aggregateByKey, distinct). */
function combining(create: (value: unknown) => unknown, merge: Merge, combine: Merge = merge): MergeOps<unknown> {
  return { create, merge, combine, growsPerValue: false };
}

const appendValue = (values: unknown[], value: unknown): unknown[] => {
  values.push(value);
  return values;
};

/** Groups of values per key, in fetch order. */
const GROUP_OPS: MergeOps<unknown[]> = {
  create: (value) => [value],
  merge: appendValue,
  combine: (earlier, later) => {
    for (const value of later) earlier.push(value);
    return earlier;
  },
  growsPerValue: true,
};

export function reduceByKeyBehavior(fn: Merge): WideBehavior {
  return {
    mapSideWriter: (_position, partitions) => new CombiningWriter(partitions, "reduceByKey", identity, fn),
    reduce: (blocksOf, sink, spill) => mergeByKey(blocksOf(0), combining(identity, fn), sink, spill),
  };
}

export function aggregateByKeyBehavior(zero: unknown, seqOp: Merge, combOp: Merge): WideBehavior {
  // Every key starts from its own copy of zero, as if it had been deserialized.
  const freshZero = typeof zero === "object" && zero !== null ? () => structuredClone(zero) : () => zero;
  return {
    mapSideWriter: (_position, partitions) =>
      new CombiningWriter(partitions, "aggregateByKey", (value) => seqOp(freshZero(), value), seqOp),
    reduce: (blocksOf, sink, spill) => mergeByKey(blocksOf(0), combining(identity, combOp), sink, spill),
  };
}

export function groupByKeyBehavior(): WideBehavior {
  return {
    mapSideWriter: (_position, partitions) => new PartitionedWriter(partitions, "groupByKey"),
    reduce: (blocksOf, sink, spill) => mergeByKey(blocksOf(0), GROUP_OPS, sink, spill),
  };
}

export function distinctBehavior(): WideBehavior {
  const asKey = (record: unknown): Pair => [record, null];
  const keepNull = () => null;
  return {
    mapSideWriter: (_position, partitions) => new CombiningWriter(partitions, "distinct", keepNull, keepNull, asKey),
    reduce(blocksOf, sink, spill) {
      const seen = new SpillingKeyedMerge(combining(keepNull, keepNull), spill);
      forEachPairIn(blocksOf(0), (key) => seen.add(key, null));
      seen.forEach((key) => sink(key));
    },
  };
}

/**
 * Inner or left outer join: the right side is grouped by key and the left
 * side streams past it; if the right side outgrew memory, the left side is
 * grouped too and the two are merge-joined in canonical key order.
 */
export function joinBehavior(kind: "join" | "leftOuterJoin"): WideBehavior {
  const emitMatches = (key: unknown, value: unknown, matches: unknown[] | undefined, sink: Sink): void => {
    if (matches) {
      for (const match of matches) sink([key, [value, match]]);
    } else if (kind === "leftOuterJoin") {
      sink([key, [value, null]]);
    }
  };
  return {
    mapSideWriter: (_position, partitions) => new PartitionedWriter(partitions, kind),
    reduce(blocksOf, sink, spill) {
      const right = new SpillingKeyedMerge(GROUP_OPS, spill);
      forEachPairIn(blocksOf(1), (key, value) => right.add(key, value));
      if (!right.spilled) {
        forEachPairIn(blocksOf(0), (key, value) => emitMatches(key, value, right.get(key), sink));
        right.forEach(() => undefined); // removes its (empty) spill dir
        return;
      }
      const left = new SpillingKeyedMerge(GROUP_OPS, spill);
      forEachPairIn(blocksOf(0), (key, value) => left.add(key, value));
      const rights = right.sortedEntries();
      try {
        let next = rights.next();
        for (const [hash, key, values] of left.sortedEntries()) {
          while (!next.done && compareEntries(next.value, [hash, key, values]) < 0) next = rights.next();
          const matches = !next.done && compareEntries(next.value, [hash, key, values]) === 0 ? next.value[2] : undefined;
          for (const value of values) emitMatches(key, value, matches, sink);
        }
      } finally {
        rights.return(undefined);
      }
    },
  };
}

/** Values of each key per side: [key, [leftValues, rightValues]], keys of either side. */
function groupBothSides(blocksOf: (parentPosition: number) => Iterable<Uint8Array>): KeyedMap<[unknown[], unknown[]]> {
  const groups = new KeyedMap<[unknown[], unknown[]]>();
  for (const side of [0, 1] as const) {
    forEachPairIn(blocksOf(side), (key, value) => {
      let group = groups.get(key);
      if (!group) groups.set(key, (group = [[], []]));
      group[side].push(value);
    });
  }
  return groups;
}

export function cogroupBehavior(): WideBehavior {
  return {
    mapSideWriter: (_position, partitions) => new PartitionedWriter(partitions, "cogroup"),
    reduce: (blocksOf, sink) => groupBothSides(blocksOf).forEach((key, group) => sink([key, group])),
  };
}

/** Every key of either side; a side without the key contributes null (msgpack has no undefined). */
export function fullOuterJoinBehavior(): WideBehavior {
  const orNull = (values: unknown[]): unknown[] => (values.length > 0 ? values : [null]);
  return {
    mapSideWriter: (_position, partitions) => new PartitionedWriter(partitions, "fullOuterJoin"),
    reduce: (blocksOf, sink) =>
      groupBothSides(blocksOf).forEach((key, [left, right]) => {
        for (const v of orNull(left)) for (const w of orNull(right)) sink([key, [v, w]]);
      }),
  };
}

/** Records of any type dealt round-robin to the reduce partitions, so the new partitions are balanced. */
export function repartitionBehavior(op: string): WideBehavior {
  return {
    mapSideWriter(_position, partitions) {
      const writer = new PartitionedWriter(partitions, op);
      let next = 0;
      return {
        add: (record) => {
          writer.addTo(next, record);
          next = (next + 1) % partitions;
        },
        finish: () => writer.finish(),
      };
    },
    reduce(blocksOf, sink) {
      for (const block of blocksOf(0)) forEachRecordIn(block, sink);
    },
  };
}
