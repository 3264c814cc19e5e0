/**
 * sortBy and sortByKey as a wide operation: map tasks route [key, value]
 * pairs by key range (bounds from the shuffle's recorded sample), and each
 * reduce partition sorts what it fetched. Partition p holds only keys below
 * those of p + 1, so partitions in order are globally sorted. The sort is
 * stable over blocks in map index order, so equal keys keep the order of
 * their input partitions, the same at every rerun.
 */
import type { Sink, WideBehavior } from "../graph.js";
import { forEachRecordIn } from "./codec.js";
import { ExternalSorter } from "./externalSort.js";
import { sortByStringPrefix } from "./prefixSort.js";
import { rangeBounds, rangeIndex } from "./rangePartitioner.js";
import { expectPair, PartitionedWriter } from "./shuffleWrite.js";
import { checkSortKey, sortOrder } from "./sortOrder.js";

type Pair = readonly [unknown, unknown];
const keyOfPair = (pair: Pair): unknown => pair[0];

export interface SortSpec {
  op: "sortBy" | "sortByKey";
  ascending: boolean;
  /** The pair a map-side record travels as: [sort key, whatever the reduce side emits from]. */
  pairOf: (record: unknown) => Pair;
  /** What the sorted dataset holds for a fetched pair. */
  emit: (pair: Pair) => unknown;
}

export function sortBehavior(spec: SortSpec): WideBehavior {
  const compare = sortOrder(spec.ascending);
  return {
    sortKeyOf: (record) => spec.pairOf(record)[0],
    mapSideWriter(_position, numReducePartitions, rangeSamples) {
      if (numReducePartitions > 1 && rangeSamples === undefined) {
        throw new Error(`${spec.op}: the map task was launched without the shuffle's key sample`);
      }
      const bounds = numReducePartitions > 1 ? rangeBounds(rangeSamples!, numReducePartitions, compare) : [];
      const writer = new PartitionedWriter(numReducePartitions, spec.op, (key) => rangeIndex(bounds, key, compare));
      return {
        add: (record) => {
          const pair = spec.pairOf(record);
          writer.addPair(pair[0], pair);
        },
        finish: () => writer.finish(),
      };
    },
    reduce(blocksOf, sink: Sink, spill) {
      // Stable, runs included: equal keys keep their fetch order.
      const comparePairs = (a: Pair, b: Pair): number => compare(a[0], b[0]);
      const sortPairs = (pairs: Pair[]): Pair[] => sortByStringPrefix(pairs, keyOfPair, comparePairs, !spec.ascending) ?? pairs.sort(comparePairs);
      const sorter = new ExternalSorter<Pair>(comparePairs, spill, sortPairs);
      for (const block of blocksOf(0)) forEachRecordIn(block, (record) => sorter.add(record as Pair));
      sorter.forEach((pair) => sink(spec.emit(pair)));
    },
  };
}

/** sortBy(keyFn): pairs of [keyFn(record), record]; the dataset holds the records. */
export function sortByBehavior(keyFn: (record: unknown) => unknown, ascending: boolean): WideBehavior {
  return sortBehavior({
    op: "sortBy",
    ascending,
    pairOf: (record) => [checkSortKey(keyFn(record), "sortBy"), record],
    emit: (pair) => pair[1],
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
    emit: (pair) => pair,
  });
}
