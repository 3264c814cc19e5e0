/**
 * A stable sort under a memory budget: records buffer until their estimated
 * size passes the budget, then the buffer is stably sorted and written as a
 * run. At the end the runs and the last buffer are k-way merged; equal keys
 * come out in run order, so the sort stays stable over the whole input.
 */
import type { SpillSpace } from "../types.js";
import { kWayMerge } from "./kWayMerge.js";
import { estimateSize, SpillRuns } from "./spillFiles.js";

export class ExternalSorter<T> {
  private buffer: T[] = [];
  private bytes = 0;
  private readonly runs: SpillRuns | undefined;

  constructor(
    private readonly compare: (a: T, b: T) => number,
    private readonly space?: SpillSpace,
    /** Sorts a buffer stably in `compare` order (default Array#sort; sortBy packs string keys instead). */
    private readonly sortBuffer: (records: T[]) => T[] = (records) => records.sort(compare),
  ) {
    this.runs = space && new SpillRuns(space);
  }

  add(record: T): void {
    this.buffer.push(record);
    if (!this.space) return;
    this.bytes += 8 + estimateSize(record);
    if (this.bytes > this.space.memoryLimit) {
      this.runs!.write(this.takeSorted());
    }
  }

  /** Every record in sorted order; removes the runs afterwards. */
  forEach(visit: (record: T) => void): void {
    try {
      const last = this.takeSorted();
      if (!this.runs || this.runs.count === 0) {
        for (const record of last) visit(record);
        return;
      }
      const sources = [...(this.runs.readers() as Iterator<T>[]), last[Symbol.iterator]()];
      for (const record of kWayMerge(sources, this.compare)) visit(record);
    } finally {
      this.runs?.remove();
    }
  }

  private takeSorted(): T[] {
    const sorted = this.sortBuffer(this.buffer);
    this.buffer = [];
    this.bytes = 0;
    return sorted;
  }
}
