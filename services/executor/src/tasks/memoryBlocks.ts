/**
 * The executor's memory copies of cached partitions, under a byte budget
 * (ballast.executor.cacheMemory). Least recently used blocks go first when a
 * new one needs room; a block larger than the whole budget is not kept. Every
 * block that leaves, evicted or freed, is named so the scheduler's registry
 * can stop offering it.
 */
import type { CachedPartitionRef } from "@ballast/common/domain/tasks";

interface HeldBlock {
  ref: CachedPartitionRef;
  block: Uint8Array;
}

export class MemoryBlocks {
  /** Insertion order is recency order: a read moves its block to the end. */
  private readonly blocks = new Map<string, HeldBlock>();
  private heldBytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get size(): number {
    return this.blocks.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** The block, marked most recently used; undefined when not held. */
  get(applicationId: string, cacheKey: string, partition: number): Uint8Array | undefined {
    const key = keyOf(applicationId, cacheKey, partition);
    const held = this.blocks.get(key);
    if (!held) return undefined;
    this.blocks.delete(key);
    this.blocks.set(key, held);
    return held.block;
  }

  /**
   * Keeps the block, evicting least recently used ones until it fits.
   * Returns whether it was kept and what was evicted for it.
   */
  put(ref: CachedPartitionRef, block: Uint8Array): { kept: boolean; evicted: CachedPartitionRef[] } {
    const key = keyOf(ref.applicationId, ref.cacheKey, ref.partition);
    const replaced = this.remove(key);
    // Too big to keep: an older copy it replaces is gone all the same.
    if (block.byteLength > this.budgetBytes) return { kept: false, evicted: replaced ? [replaced.ref] : [] };
    const evicted: CachedPartitionRef[] = [];
    for (const [oldest, held] of this.blocks) {
      if (this.heldBytes + block.byteLength <= this.budgetBytes) break;
      this.remove(oldest);
      evicted.push(held.ref);
    }
    this.blocks.set(key, { ref: { ...ref, bytes: block.byteLength }, block });
    this.heldBytes += block.byteLength;
    return { kept: true, evicted };
  }

  /** unpersist(): frees every partition of the dataset; returns how many were held. */
  freeDataset(applicationId: string, cacheKey: string): number {
    let freed = 0;
    for (const [key, held] of this.blocks) {
      if (held.ref.applicationId !== applicationId || held.ref.cacheKey !== cacheKey) continue;
      this.remove(key);
      freed++;
    }
    return freed;
  }

  /** Every block held, for the registration report on (re)connect. */
  held(): CachedPartitionRef[] {
    return [...this.blocks.values()].map((held) => ({ ...held.ref }));
  }

  private remove(key: string): HeldBlock | undefined {
    const held = this.blocks.get(key);
    if (!held) return undefined;
    this.blocks.delete(key);
    this.heldBytes -= held.block.byteLength;
    return held;
  }
}

function keyOf(applicationId: string, cacheKey: string, partition: number): string {
  return `${applicationId}/${cacheKey}/${partition}`;
}
