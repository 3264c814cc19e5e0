/**
 * Core tests of persisted datasets: an application's actions on a 2-executor
 * harness, and executors that keep, read and miss cached partitions as the
 * real one does (runner.ts): a copy is readable on disk anywhere and in
 * memory only on its holder; a task that cannot read one while its job
 * skipped the stages below it fails with a FetchFailed of the cached partition.
 */
import { cacheShuffleIdOf } from "@ballast/common/domain/tasks";
import { persistedInPipeline } from "../cache.js";
import type { Command, Input, Plan, TaskLaunch } from "../types.js";
import { Harness } from "./harness.js";

export const APP = "app-1";

/** The plan with one dataset persisted at `level` (key `ds<id>`). */
export function persisted(plan: Plan, level: "memory" | "disk" | "memory_and_disk", datasetId = 1): Plan {
  return { ...plan, datasets: plan.datasets.map((d) => (d.id === datasetId ? { ...d, storageLevel: level, cacheKey: `ds${datasetId}` } : d)) };
}

/** Executors e1 (node n1) and e2 (node n2), 2 slots each. */
export function cluster(): Harness {
  const h = new Harness();
  h.addExecutor("e1", "n1", 2);
  h.addExecutor("e2", "n2", 2);
  return h;
}

export function submitAction(h: Harness, jobId: string, plan: Plan): Command[] {
  return h.send({ type: "jobSubmitted", jobId, plan, bundleDigest: "sha256:bundle", conf: {}, traceparent: "", applicationId: APP });
}

/** The task's own partition of the persisted dataset is offered where this executor can read it. */
function readable(task: TaskLaunch, executorId: string): boolean {
  return (task.cachedPartitions ?? []).some((l) => l.partition === task.partition && (l.diskShuffleAddress || l.memoryExecutorId === executorId));
}

/** Answers one live task as an executor would: reads, computes and keeps its ds partition, or misses it. */
export function answer(h: Harness, taskId: string): void {
  const { executorId, task } = h.live.get(taskId)!;
  const offered = readable(task, executorId);
  const skippedBelow = task.shuffleReads.some((read) => read.locations.length < read.numMaps);
  const persistedDataset = task.plan.datasets.find((d) => d.cacheKey)!;
  if (!offered && skippedBelow) {
    const location = task.cachedPartitions?.find((l) => l.partition === task.partition);
    const fetch = { shuffleId: cacheShuffleIdOf(APP, persistedDataset.cacheKey!), mapIndex: task.partition, mapAttempt: 0, shuffleAddress: location?.diskShuffleAddress ?? "", nodeId: "", serviceUnreachable: false };
    h.fail(taskId, { kind: "fetchFailed", message: "cached partition unreadable", fetch });
    return;
  }
  h.live.delete(taskId);
  const executor = h.executors.get(executorId)!;
  const update: Extract<Input, { type: "taskUpdate" }> = {
    type: "taskUpdate", executorId, taskId, state: "succeeded",
    metrics: { durationMs: 5, inputBytes: 0, shuffleBytesWritten: 0, shuffleBytesRead: 0, recordsOut: 1, spills: 0, spilledBytes: 0, cachedPartitionsRead: offered ? 1 : 0 },
  };
  if (!offered) {
    const level = persistedDataset.storageLevel!;
    const computesIt = persistedInPipeline(task.plan, task.datasetId).includes(persistedDataset);
    if (computesIt) update.cachedWrites = [{ cacheKey: persistedDataset.cacheKey!, partition: task.partition, inMemory: level !== "disk", onDisk: level !== "memory", bytes: 64 }];
  }
  if (task.shuffleWrite) {
    update.mapStatus = {
      shuffleId: task.shuffleWrite.shuffleId, mapIndex: task.partition, attempt: task.attempt, shuffleAddress: executor.shuffleAddress,
      nodeId: executor.nodeId, partitionSizes: new Array<number>(task.shuffleWrite.numReducePartitions).fill(10),
    };
  } else {
    update.records = Uint8Array.of(task.partition);
    update.count = 1;
  }
  h.send(update);
}

/** Answers every live task (see answer) until nothing runs. */
export function runKeeping(h: Harness, maxAnswers = 10_000): void {
  for (let i = 0; i < maxAnswers && h.live.size > 0; i++) answer(h, h.live.keys().next().value!);
}
