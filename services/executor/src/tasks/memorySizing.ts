/**
 * How an executor's memory (ballast.executor.totalMemory, one process) is
 * shared. Each slot's worker thread has a V8 heap of its own, so the total is
 * split, not shared: the main thread keeps a fixed reserve (gRPC, a map
 * task's output on its way to the shuffle service, the blocks a queued task
 * has fetched) and the budget of persisted partitions it holds in memory
 * (ballast.executor.cacheMemory), and each slot gets an equal share of the rest. Of a share, three quarters
 * are its worker's old-generation cap; the rest is room for what lives
 * outside that heap: the young generation (48m) and the fetched blocks the
 * task reads. A task's reduce-side budget (ballast.executor.memory) is capped
 * at half its worker's heap: the budget estimates what the merge keeps alive,
 * the other half is room for the garbage of decoding blocks and sorting runs,
 * and for a group larger than any budget (one key's values are never split).
 * With the cap a worker collects its garbage early instead of growing toward
 * V8's default limit (a quarter of the machine), and a task that still needs
 * more fails alone (its worker is replaced) instead of taking the executor down.
 */
const MIB = 1024 * 1024;
/** What the main thread keeps beside the workers. */
export const MAIN_THREAD_RESERVE = 256 * MIB;
/** No worker heap below this: the SDK, the job bundle and a block being decoded need room. */
const MIN_WORKER_HEAP = 64 * MIB;

export interface MemorySizing {
  /** Old-generation cap of each slot's worker (three quarters of its share). */
  workerHeapBytes: number;
  /** The most a task's ballast.executor.memory may be on this executor. */
  taskMemoryCap: number;
}

export function memorySizing(totalMemory: number, slots: number, cacheMemory = 0): MemorySizing {
  const share = (totalMemory - MAIN_THREAD_RESERVE - cacheMemory) / slots;
  const workerHeapBytes = Math.max(MIN_WORKER_HEAP, Math.floor((share * 3) / 4));
  return { workerHeapBytes, taskMemoryCap: Math.floor(workerHeapBytes / 2) };
}
