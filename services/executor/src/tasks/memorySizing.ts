/**
 * How an executor's memory (ballast.executor.totalMemory, one process) is
 * shared. Each slot's worker thread has a V8 heap of its own, so the total is
 * split, not shared: the main thread keeps a fixed reserve (gRPC, a map
 * task's output on its way to the shuffle service, fetched blocks, which live
 * outside the heaps), and each slot's worker gets an equal old-generation cap.
 * A task's reduce-side budget (ballast.executor.memory) is capped at half its
 * worker's heap: the budget is an estimate of what the merge keeps alive, and
 * the other half is room for the garbage of decoding blocks and sorting runs.
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
  /** Old-generation cap of each slot's worker. */
  workerHeapBytes: number;
  /** The most a task's ballast.executor.memory may be on this executor. */
  taskMemoryCap: number;
}

export function memorySizing(totalMemory: number, slots: number): MemorySizing {
  const workerHeapBytes = Math.max(MIN_WORKER_HEAP, Math.floor((totalMemory - MAIN_THREAD_RESERVE) / slots));
  return { workerHeapBytes, taskMemoryCap: Math.floor(workerHeapBytes / 2) };
}
