/**
 * Wide operations: what the map side writes (with map-side combine where the
 * op allows) and how the reduce side merges the fetched blocks by key.
 */
import type { Sink, WideBehavior } from "../graph.js";
import { forEachRecordIn } from "./codec.js";
import { KeyedMap } from "./keys.js";
import { CombiningWriter, PartitionedWriter } from "./shuffleWrite.js";

type Pair = [unknown, unknown];
type Merge = (a: unknown, b: unknown) => unknown;
const identity = <T>(value: T): T => value;

function forEachPairIn(blocks: Uint8Array[], visit: (key: unknown, value: unknown) => void): void {
  for (const block of blocks) {
    forEachRecordIn(block, (record) => visit((record as Pair)[0], (record as Pair)[1]));
  }
}

/** Reduce side shared by ops that merge values per key, then emit [key, merged]. */
function mergeByKey<C>(blocks: Uint8Array[], create: (value: unknown) => C, merge: (c: C, v: unknown) => C, sink: Sink): void {
  const merged = new KeyedMap<C>();
  forEachPairIn(blocks, (key, value) => merged.merge(key, value, create, merge));
  merged.forEach((key, value) => sink([key, value]));
}

export function reduceByKeyBehavior(fn: Merge): WideBehavior {
  return {
    mapSideWriter: (_position, partitions) => new CombiningWriter(partitions, "reduceByKey", identity, fn),
    reduce: (blocksOf, sink) => mergeByKey(blocksOf(0), identity, fn, sink),
  };
}

export function aggregateByKeyBehavior(zero: unknown, seqOp: Merge, combOp: Merge): WideBehavior {
  // Every key starts from its own copy of zero, as if it had been deserialized.
  const freshZero = typeof zero === "object" && zero !== null ? () => structuredClone(zero) : () => zero;
  return {
    mapSideWriter: (_position, partitions) =>
      new CombiningWriter(partitions, "aggregateByKey", (value) => seqOp(freshZero(), value), seqOp),
    reduce: (blocksOf, sink) => mergeByKey(blocksOf(0), identity, combOp, sink),
  };
}

export function groupByKeyBehavior(): WideBehavior {
  const append = (values: unknown[], value: unknown): unknown[] => {
    values.push(value);
    return values;
  };
  return {
    mapSideWriter: (_position, partitions) => new PartitionedWriter(partitions, "groupByKey"),
    reduce: (blocksOf, sink) => mergeByKey(blocksOf(0), (value) => [value], append, sink),
  };
}

export function distinctBehavior(): WideBehavior {
  const asKey = (record: unknown): Pair => [record, null];
  return {
    mapSideWriter: (_position, partitions) =>
      new CombiningWriter(partitions, "distinct", () => null, () => null, asKey),
    reduce(blocksOf, sink) {
      const seen = new KeyedMap<null>();
      forEachPairIn(blocksOf(0), (key) => seen.set(key, null));
      seen.forEach((key) => sink(key));
    },
  };
}

/** Inner or left outer join: the right side is held by key, the left side streams. */
export function joinBehavior(kind: "join" | "leftOuterJoin"): WideBehavior {
  return {
    mapSideWriter: (_position, partitions) => new PartitionedWriter(partitions, kind),
    reduce(blocksOf, sink) {
      const right = new KeyedMap<unknown[]>();
      forEachPairIn(blocksOf(1), (key, value) => {
        const values = right.get(key);
        if (values) values.push(value);
        else right.set(key, [value]);
      });
      forEachPairIn(blocksOf(0), (key, value) => {
        const matches = right.get(key);
        if (matches) {
          for (const match of matches) sink([key, [value, match]]);
        } else if (kind === "leftOuterJoin") {
          sink([key, [value, null]]);
        }
      });
    },
  };
}

/** Values of each key per side: [key, [leftValues, rightValues]], keys of either side. */
function groupBothSides(blocksOf: (parentPosition: number) => Uint8Array[]): KeyedMap<[unknown[], unknown[]]> {
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
