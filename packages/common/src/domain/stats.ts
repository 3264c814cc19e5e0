/** A job's counters, as the scheduler keeps them and history stores them from JobEnded. */
export interface JobStats {
  tasksLaunched: number;
  taskAttemptsFailed: number;
  stageAttempts: number;
  wallTimeMs: number;
  shuffleBytesWritten: number;
  inputBytes: number;
  recomputedTasks: number;
  lostMapOutputs: number;
  /** Sorted runs tasks' reduce-side operators spilled to local disk (past ballast.executor.memory), and their bytes. */
  spills: number;
  spilledBytes: number;
  /** Partitions of persisted datasets tasks read from the cache instead of computing them. */
  cachedPartitionsRead: number;
}

/** A fresh zero (callers count into it, so never a shared object). */
export function emptyStats(): JobStats {
  return {
    tasksLaunched: 0,
    taskAttemptsFailed: 0,
    stageAttempts: 0,
    wallTimeMs: 0,
    shuffleBytesWritten: 0,
    inputBytes: 0,
    recomputedTasks: 0,
    lostMapOutputs: 0,
    spills: 0,
    spilledBytes: 0,
    cachedPartitionsRead: 0,
  };
}
