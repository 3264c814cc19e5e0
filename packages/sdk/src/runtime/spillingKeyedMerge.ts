/**
 * Reduce-side hash aggregation under a memory budget. Values merge per key
 * in a KeyedMap; when its estimated size passes the budget, the map is
 * written as a run sorted by the canonical key order (hash, then the key's
 * identity) and starts over. At the end the runs and the last in-memory map
 * are k-way merged, and partial results of a key are combined in run order
 * (so a group's values stay in fetch order). Without a spill the map is
 * emitted as it is: the in-memory path is untouched.
 */
import type { SpillSpace } from "../types.js";
import { canonicalKey, hashKey, KeyedMap } from "./keys.js";
import { kWayMerge } from "./kWayMerge.js";
import { estimateSize, SpillRuns } from "./spillFiles.js";

export interface MergeOps<C> {
  create(value: unknown): C;
  merge(current: C, value: unknown): C;
  /** Combines partial results of one key from two runs, the earlier first. */
  combine(earlier: C, later: C): C;
  /** Whether every merged value grows the state (groups), or only new keys do (combining aggregations). */
  growsPerValue: boolean;
}

export type Entry<C> = [hash: number, key: unknown, value: C];

/** Sorts entries by key hash, then by a string that is equal exactly when KeyedMap's keys are. */
export function compareEntries<C>(a: Entry<C>, b: Entry<C>): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  const x = keyIdentity(a[1]);
  const y = keyIdentity(b[1]);
  return x < y ? -1 : x > y ? 1 : 0;
}

function keyIdentity(key: unknown): string {
  if (typeof key === "object" && key !== null) return `o:${canonicalKey(key)}`;
  return `${key === null ? "null" : typeof key}:${String(key)}`;
}

const ENTRY_OVERHEAD = 64;

export class SpillingKeyedMerge<C> {
  private map = new KeyedMap<C>();
  private bytes = 0;
  private readonly runs: SpillRuns | undefined;

  constructor(private readonly ops: MergeOps<C>, private readonly space?: SpillSpace) {
    this.runs = space && new SpillRuns(space);
  }

  get spilled(): boolean {
    return (this.runs?.count ?? 0) > 0;
  }

  add(key: unknown, value: unknown): void {
    const keysBefore = this.map.size;
    this.map.merge(key, value, this.ops.create, this.ops.merge);
    if (!this.space) return;
    if (this.map.size > keysBefore) this.bytes += ENTRY_OVERHEAD + estimateSize(key) + estimateSize(value);
    else if (this.ops.growsPerValue) this.bytes += 8 + estimateSize(value);
    if (this.bytes > this.space.memoryLimit) this.spill();
  }

  /** Every key once with its merged value: in insertion order if nothing spilled, else in canonical key order. */
  forEach(visit: (key: unknown, value: C) => void): void {
    if (!this.spilled) {
      this.map.forEach(visit);
      this.runs?.remove();
      return;
    }
    for (const [, key, value] of this.sortedEntries()) visit(key, value);
  }

  /** The merged value of a key; only while nothing has spilled (a join's in-memory path). */
  get(key: unknown): C | undefined {
    if (this.spilled) throw new Error("SpillingKeyedMerge.get after a spill: read sortedEntries() instead");
    return this.map.get(key);
  }

  /** Every key once with its merged value, in canonical key order; removes the runs when done. */
  *sortedEntries(): Generator<Entry<C>> {
    try {
      const sources = [...(this.runs?.readers() ?? []), this.takeSorted()[Symbol.iterator]()] as Iterator<Entry<C>>[];
      let current: Entry<C> | undefined;
      for (const entry of kWayMerge(sources, compareEntries)) {
        if (current && compareEntries(current, entry) === 0) {
          current[2] = this.ops.combine(current[2], entry[2]);
          continue;
        }
        if (current) yield current;
        current = entry;
      }
      if (current) yield current;
    } finally {
      this.runs?.remove();
    }
  }

  private spill(): void {
    this.runs!.write(this.takeSorted());
  }

  /** The in-memory entries in canonical key order; the map starts over empty. */
  private takeSorted(): Entry<C>[] {
    const entries: Entry<C>[] = [];
    this.map.forEach((key, value) => entries.push([hashKey(key), key, value]));
    this.map = new KeyedMap<C>();
    this.bytes = 0;
    return entries.sort(compareEntries);
  }
}
