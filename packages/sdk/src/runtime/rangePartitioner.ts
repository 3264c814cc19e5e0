/**
 * Spark's range partitioner. A sample task keeps a seeded reservoir sample of
 * its partition's keys (plus how many records it saw); every map task of the
 * shuffle derives the same bounds from the same recorded samples, weighting
 * each sampled key by the size of the partition it stands for, so skewed
 * input partitions still give balanced ranges.
 */
import { seededRandom } from "@ballast/common/seededRandom";
import { forEachRecordIn, packRecords } from "./codec.js";
import type { Compare } from "./sortOrder.js";

/** One partition's sample, as a sample task returns it. */
export interface KeySample {
  count: number;
  keys: unknown[];
}

/** Spark's sizes: about 20 keys per reduce partition overall, over-sampled 3x across the input partitions. */
export function sampleSizePerPartition(numReducePartitions: number, numInputPartitions: number): number {
  const total = Math.min(20 * numReducePartitions, 1_000_000);
  return Math.ceil((3 * total) / Math.max(1, numInputPartitions));
}

/** Reservoir sampling (algorithm R) of up to `size` keys. */
export class KeySampler {
  private readonly keys: unknown[] = [];
  private count = 0;
  private readonly random: () => number;

  constructor(
    private readonly size: number,
    seed: number,
  ) {
    // Seeded: the same partition samples the same keys in every attempt.
    this.random = seededRandom(seed ^ 0x9e3779b9);
  }

  add(key: unknown): void {
    this.count++;
    if (this.keys.length < this.size) {
      this.keys.push(key);
      return;
    }
    const slot = Math.floor(this.random() * this.count);
    if (slot < this.size) this.keys[slot] = key;
  }

  /** How many keys it was given. */
  get seen(): number {
    return this.count;
  }

  /** The sample as one packed record (the sample task's collect result); each key seen stood for `scale` records. */
  finish(scale: number): Uint8Array {
    const sample: KeySample = { count: Math.round(this.count * scale), keys: this.keys };
    return packRecords([sample]);
  }
}

/** Up to numPartitions - 1 distinct ascending (in `compare` order) bounds from every partition's sample block. */
export function rangeBounds(sampleBlocks: readonly Uint8Array[], numPartitions: number, compare: Compare): unknown[] {
  const candidates: Array<{ key: unknown; weight: number }> = [];
  let totalWeight = 0;
  for (const block of sampleBlocks) {
    forEachRecordIn(block, (record) => {
      const { count, keys } = record as KeySample;
      if (keys.length === 0) return;
      const weight = count / keys.length;
      for (const key of keys) candidates.push({ key, weight });
      totalWeight += count;
    });
  }
  // Stable sort over blocks in partition order: ties resolve the same everywhere.
  candidates.sort((a, b) => compare(a.key, b.key));
  const bounds: unknown[] = [];
  const step = totalWeight / numPartitions;
  let cumulative = 0;
  let target = step;
  for (const { key, weight } of candidates) {
    if (bounds.length === numPartitions - 1) break;
    cumulative += weight;
    if (cumulative < target) continue;
    if (bounds.length === 0 || compare(key, bounds[bounds.length - 1]) > 0) {
      bounds.push(key);
      target += step;
    }
  }
  return bounds;
}

/** The partition of a key: how many bounds are below it (keys equal to a bound go with it). */
export function rangeIndex(bounds: readonly unknown[], key: unknown, compare: Compare): number {
  let low = 0;
  let high = bounds.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(bounds[middle], key) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
