/**
 * Partitions of persisted datasets: a task that reaches a persisted dataset
 * reads the partition from the host's cache when it is there, and otherwise
 * computes it once and hands it to the cache. The host decides where blocks
 * live ("memory": the executor; "disk": the node's shuffle service).
 */
import type { Node, PartitionBehavior } from "../graph.js";
import type { PartitionIO } from "../types.js";
import { forEachRecordIn, packRecords } from "./codec.js";

/**
 * A persisted dataset is known across the jobs of its application by its
 * creation order in the driver program, which a replay reproduces.
 */
export const cacheKeyOf = (node: Node): string => `ds${node.seq}`;

/** Wraps a dataset's behavior so that, while it is persisted and the host has a cache, partitions go through it. */
export function throughCache(node: Node, computed: PartitionBehavior): PartitionBehavior {
  const cacheOf = (io: PartitionIO) => (node.storageLevel === "none" ? undefined : io.cache);
  const records = (p: number, io: PartitionIO): unknown[] | undefined => {
    const cache = cacheOf(io);
    if (!cache) return undefined;
    const block = cache.read(cacheKeyOf(node), p);
    const kept: unknown[] = [];
    if (block) {
      forEachRecordIn(block, (record) => kept.push(record));
      return kept;
    }
    computed.forEach(p, io, (record) => kept.push(record));
    cache.write(cacheKeyOf(node), p, node.storageLevel as Exclude<Node["storageLevel"], "none">, packRecords(kept));
    return kept;
  };
  return {
    forEach(p, io, sink, lineBytes) {
      const kept = records(p, io);
      if (kept) kept.forEach((record) => sink(record));
      else computed.forEach(p, io, sink, lineBytes);
    },
    iterate: (p, io) => records(p, io) ?? computed.iterate(p, io),
    // A partition going into the cache is computed whole.
    forEachSample: (p, io, sink) => (cacheOf(io) ? undefined : computed.forEachSample?.(p, io, sink)),
  };
}
