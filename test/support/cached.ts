import type { TaskEvent } from "./faults.js";

/** The job's task attempts that succeeded. */
export const succeededIn = (events: TaskEvent[], jobId: string): TaskEvent[] => events.filter((e) => e.event === "end" && e.state === "succeeded" && e.jobId === jobId);

/** Cached partitions the job's tasks computed and kept (on `nodeId` only, when given): what it did not read from the cache. */
export const keptIn = (events: TaskEvent[], jobId: string, nodeId?: string): number =>
  succeededIn(events, jobId).filter((e) => !nodeId || e.nodeId === nodeId).reduce((sum, e) => sum + (e.cachedKept ?? 0), 0);
