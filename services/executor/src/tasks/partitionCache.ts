/**
 * The executor's side of persisted datasets. Before a task, the cached
 * partitions the scheduler says its pipeline may read are gathered: from
 * this executor's memory, or fetched from the shuffle service holding them
 * on disk. After it, what the task computed for a persisted dataset is kept
 * ("memory": here; "disk": in this node's shuffle service, as the map output
 * of the dataset's pseudo shuffle, so it outlives this process) and reported
 * for the scheduler's registry. A block that cannot be had is simply not
 * offered: the task computes the partition from lineage instead. Memory copies
 * live under a budget (MemoryBlocks); the ones evicted for a new block and the
 * ones unpersist() frees leave the registry through `onEvicted` and the
 * scheduler's own bookkeeping respectively.
 */
import type { Logger } from "@ballast/common/logging";
import { describeError } from "@ballast/common/errors";
import { cacheShuffleIdOf, parseCacheShuffleId, type CachedPartitionRef, type CachedPartitionWrite, type TaskLaunch } from "@ballast/common/domain/tasks";
import { MemoryBlocks } from "./memoryBlocks.js";
import type { ShufflePeer } from "./peers.js";
import type { CacheBlockWrite } from "./protocol.js";

/** Disk partitions are the only map output of their pseudo shuffle's map index: one attempt, one reduce partition. */
const CACHE_ATTEMPT = 0;

/** A registration waits this long at most for the node's shuffle service to list what it holds (a failover's reconnects must stay fast). */
const LIST_TIMEOUT_MS = 1000;

export interface PartitionCacheDeps {
  nodeShuffle: Pick<ShufflePeer, "writeMapOutput" | "listMapOutputs">;
  shuffleClientFor(address: string): Pick<ShufflePeer, "fetchBlocks">;
  logger: Logger;
  /** Bytes of memory copies held at most (ballast.executor.cacheMemory). */
  memoryBudgetBytes: number;
  /** Memory copies evicted to make room: the scheduler must stop offering them. */
  onEvicted(partitions: CachedPartitionRef[]): void;
}

/** `${cacheKey}/${partition}`, as the task's worker looks blocks up. */
export function blockKeyOf(cacheKey: string, partition: number): string {
  return `${cacheKey}/${partition}`;
}

export class ExecutorPartitionCache {
  private readonly memory: MemoryBlocks;

  constructor(private readonly deps: PartitionCacheDeps) {
    this.memory = new MemoryBlocks(deps.memoryBudgetBytes);
  }

  /** Partitions and bytes held in memory (executor status). */
  get memoryHeld(): { partitions: number; bytes: number } {
    return { partitions: this.memory.size, bytes: this.memory.bytes };
  }

  /** What this executor holds in memory, reported when it (re)registers. */
  heldInMemory(): CachedPartitionRef[] {
    return this.memory.held();
  }

  /**
   * What this node's shuffle service holds of persisted datasets, reported when
   * this executor (re)registers; undefined when the service cannot be asked
   * (the scheduler then keeps what it knows).
   */
  async heldOnDisk(): Promise<CachedPartitionRef[] | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${LIST_TIMEOUT_MS} ms`)), LIST_TIMEOUT_MS)));
    try {
      const outputs = await Promise.race([this.deps.nodeShuffle.listMapOutputs(), slow]);
      return outputs.flatMap(({ ref, partitionSizes }) => {
        const dataset = parseCacheShuffleId(ref.shuffleId);
        if (!dataset || ref.attempt !== CACHE_ATTEMPT) return [];
        return [{ ...dataset, partition: ref.mapIndex, bytes: partitionSizes.reduce((sum, size) => sum + size, 0) }];
      });
    } catch (err) {
      this.deps.logger.warn({ err: describeError(err) }, "could not list the cached partitions of this node's shuffle service");
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** unpersist(): the scheduler forgot the dataset; its memory copies here go too. */
  freeDataset(applicationId: string, cacheKey: string): number {
    return this.memory.freeDataset(applicationId, cacheKey);
  }

  /** The cached blocks the launch may read, by blockKeyOf. */
  async blocksFor(launch: TaskLaunch): Promise<Record<string, Uint8Array>> {
    const applicationId = launch.applicationId;
    const blocks: Record<string, Uint8Array> = {};
    if (!applicationId) return blocks;
    const remote = new Map<string, Array<{ cacheKey: string; partition: number }>>();
    for (const location of launch.cachedPartitions ?? []) {
      const kept = this.memory.get(applicationId, location.cacheKey, location.partition);
      if (kept) blocks[blockKeyOf(location.cacheKey, location.partition)] = kept;
      else if (location.diskShuffleAddress) {
        const list = remote.get(location.diskShuffleAddress) ?? [];
        list.push(location);
        remote.set(location.diskShuffleAddress, list);
      }
    }
    await Promise.all([...remote].map(([address, wanted]) => this.fetchInto(blocks, applicationId, address, wanted)));
    return blocks;
  }

  /** Keeps what the task computed for persisted datasets; returns what to report. */
  async keep(launch: TaskLaunch, writes: readonly CacheBlockWrite[]): Promise<CachedPartitionWrite[]> {
    const applicationId = launch.applicationId;
    if (!applicationId || writes.length === 0) return [];
    const kept = await Promise.all(writes.map((write) => this.keepOne(applicationId, write)));
    return kept.filter((write) => write.inMemory || write.onDisk); // kept nowhere: nothing to register
  }

  private async keepOne(applicationId: string, write: CacheBlockWrite): Promise<CachedPartitionWrite> {
    const inMemory = write.level !== "disk" && this.keepInMemory(applicationId, write);
    let onDisk = write.level !== "memory";
    if (onDisk) {
      const ref = { shuffleId: cacheShuffleIdOf(applicationId, write.cacheKey), mapIndex: write.partition, attempt: CACHE_ATTEMPT };
      try {
        await this.deps.nodeShuffle.writeMapOutput(ref, [write.block]);
      } catch (err) {
        // Not kept on disk is not a task failure: a later task computes the partition again.
        onDisk = false;
        this.deps.logger.warn({ err: describeError(err), shuffleId: ref.shuffleId, partition: write.partition }, "could not keep a cached partition on disk");
      }
    }
    return { cacheKey: write.cacheKey, partition: write.partition, inMemory, onDisk, bytes: write.block.byteLength };
  }

  private keepInMemory(applicationId: string, write: CacheBlockWrite): boolean {
    const { kept, evicted } = this.memory.put({ applicationId, cacheKey: write.cacheKey, partition: write.partition, bytes: write.block.byteLength }, write.block);
    if (evicted.length > 0) {
      this.deps.logger.info({ evicted: evicted.length, heldBytes: this.memory.bytes }, "evicted cached partitions from memory");
      this.deps.onEvicted(evicted);
    }
    return kept;
  }

  private async fetchInto(
    blocks: Record<string, Uint8Array>,
    applicationId: string,
    address: string,
    wanted: Array<{ cacheKey: string; partition: number }>,
  ): Promise<void> {
    const requests = wanted.map((w) => ({ ref: { shuffleId: cacheShuffleIdOf(applicationId, w.cacheKey), mapIndex: w.partition, attempt: CACHE_ATTEMPT }, partition: 0 }));
    try {
      const fetched = await this.deps.shuffleClientFor(address).fetchBlocks(requests);
      wanted.forEach((w, i) => (blocks[blockKeyOf(w.cacheKey, w.partition)] = fetched[i]!));
    } catch (err) {
      this.deps.logger.warn({ err: describeError(err), address, partitions: wanted.length }, "cached partitions unavailable: computing them from lineage");
    }
  }
}
