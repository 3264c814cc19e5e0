/**
 * sortBy and sortByKey as a wide operation: map tasks route [key, value]
 * pairs by key range (bounds from the shuffle's recorded sample), and each
 * reduce partition sorts what it fetched. Partition p holds only keys below
 * those of p + 1, so partitions in order are globally sorted. The sort is
 * stable over blocks in map index order, so equal keys keep the order of
 * their input partitions, the same at every rerun.
 */
import type { LineBytesSink, ShuffleWriter, Sink, WideBehavior } from "../graph.js";
import type { SpillSpace } from "../types.js";
import { ExternalSorter } from "./externalSort.js";
import { sortByStringPrefix } from "./prefixSort.js";
import { rangeBounds, rangeIndex } from "./rangePartitioner.js";
import { expectPair } from "./shuffleWrite.js";
import { forEachPackedPair, forEachSegment, SortBlockBuilder, StringEntries } from "./sortBlocks.js";
import { checkSortKey, sortOrder, type Compare } from "./sortOrder.js";

type Pair = readonly [unknown, unknown];
const keyOfPair = (pair: Pair): unknown => pair[0];

export interface SortSpec {
  op: "sortBy" | "sortByKey";
  ascending: boolean;
  /** The pair a map-side record travels as: [sort key, whatever the reduce side emits from]. */
  pairOf: (record: unknown) => Pair;
  /** What the sorted dataset holds for a fetched pair (`key` is undefined unless `emitsKey`). */
  emit: (key: unknown, value: unknown) => unknown;
  emitsKey: boolean;
  /** Whether `emit` returns the value as it is (sortBy), so string values can reach text output as their bytes. */
  emitsValue: boolean;
}

/**
 * How much more than their bytes held string entries may cost before the sort takes the spilling
 * path: the strings made at output and what the output holds of them.
 */
const STRING_ENTRIES_OVERHEAD = 2;

export function sortBehavior(spec: SortSpec): WideBehavior {
  const compare = sortOrder(spec.ascending);
  return {
    sortKeyOf: (record) => spec.pairOf(record)[0],
    mapSideWriter(_position, numReducePartitions, rangeSamples) {
      if (numReducePartitions > 1 && rangeSamples === undefined) {
        throw new Error(`${spec.op}: the map task was launched without the shuffle's key sample`);
      }
      const bounds = numReducePartitions > 1 ? rangeBounds(rangeSamples!, numReducePartitions, compare) : [];
      return sortBlockWriter(numReducePartitions, spec.pairOf, (key) => rangeIndex(bounds, key, compare));
    },
    reduce: (blocksOf, sink, spill, lineBytes) =>
      sortFetched(blocksOf(0), spec, compare, sink, spill, spec.emitsValue ? lineBytes : undefined),
  };
}

/** The map side: each record's pair into its reduce partition's sort block. */
function sortBlockWriter(numPartitions: number, pairOf: (record: unknown) => Pair, partitionOf: (key: unknown) => number): ShuffleWriter {
  const builders = Array.from({ length: numPartitions }, () => new SortBlockBuilder());
  let records = 0;
  return {
    add: (record) => {
      const pair = pairOf(record);
      builders[partitionOf(pair[0])]!.add(pair);
      records++;
    },
    finish: () => ({ partitions: builders.map((builder) => builder.finish()), recordsOut: records }),
  };
}

/**
 * The reduce side. String entries are sorted where they lie when they all fit in memory and
 * their keys pack; otherwise (packed pairs in the blocks, too many bytes, keys that do not pack)
 * every pair is decoded, in fetch order, into the external sorter, which spills sorted runs.
 * Sorted string entries go to `lineBytes`, when given, as their value's bytes.
 */
function sortFetched(
  blocks: Iterable<Uint8Array>,
  spec: SortSpec,
  compare: Compare,
  sink: Sink,
  spill: SpillSpace | undefined,
  lineBytes: LineBytesSink | undefined,
): void {
  let strings = new StringEntries();
  let sorter: ExternalSorter<Pair> | undefined;
  /** The external sorter, given the string entries held so far (which it then holds instead). */
  const decodeAll = (): ExternalSorter<Pair> => {
    const into = (sorter ??= pairSorter(spec, compare, spill));
    if (strings.count > 0) {
      strings.forEachPair((pair) => into.add(pair));
      strings = new StringEntries();
    }
    return into;
  };
  for (const block of blocks) {
    forEachSegment(block, (kind, payload) => {
      if (kind === "packed") {
        const into = decodeAll();
        forEachPackedPair(payload, (pair) => into.add(pair));
        return;
      }
      strings.add(payload);
      if (sorter || (spill && STRING_ENTRIES_OVERHEAD * strings.bytes > spill.memoryLimit)) decodeAll();
    });
  }
  const order = sorter ? undefined : strings.sortedOrder(compare, !spec.ascending);
  if (order && lineBytes) {
    for (let j = 0; j < order.length; j++) strings.valueBytes(order[j]!, lineBytes);
    return;
  }
  if (order) {
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!;
      sink(spec.emit(spec.emitsKey ? strings.key(i) : undefined, strings.value(i)));
    }
    return;
  }
  decodeAll().forEach((pair) => sink(spec.emit(pair[0], pair[1])));
}

/** Stable, runs included: equal keys keep their fetch order. */
function pairSorter(spec: SortSpec, compare: Compare, spill: SpillSpace | undefined): ExternalSorter<Pair> {
  const comparePairs = (a: Pair, b: Pair): number => compare(a[0], b[0]);
  const sortPairs = (pairs: Pair[]): Pair[] => sortByStringPrefix(pairs, keyOfPair, comparePairs, !spec.ascending) ?? pairs.sort(comparePairs);
  return new ExternalSorter<Pair>(comparePairs, spill, sortPairs);
}

/** sortBy(keyFn): pairs of [keyFn(record), record]; the dataset holds the records. */
export function sortByBehavior(keyFn: (record: unknown) => unknown, ascending: boolean): WideBehavior {
  return sortBehavior({
    op: "sortBy",
    ascending,
    pairOf: (record) => [checkSortKey(keyFn(record), "sortBy"), record],
    emit: (_key, value) => value,
    emitsKey: false,
    emitsValue: true,
  });
}

/** sortByKey(): the records are the pairs. */
export function sortByKeyBehavior(ascending: boolean): WideBehavior {
  return sortBehavior({
    op: "sortByKey",
    ascending,
    pairOf: (record) => {
      const pair = expectPair(record, "sortByKey");
      checkSortKey(pair[0], "sortByKey");
      return pair;
    },
    emit: (key, value) => [key, value],
    emitsKey: true,
    emitsValue: false,
  });
}
