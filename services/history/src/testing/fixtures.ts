import type { HistoryEvent } from "../core/types.js";

/** Test data: the events of a realistic application, numbered from seq 1. */

export const T0 = 1_700_000_000_000;

export const EXECUTOR_EVENTS: HistoryEvent[] = [
  {
    seq: 1,
    timeMs: T0,
    jobId: "",
    body: { type: "executorAdded", executor: { executorId: "exec-1", nodeId: "node-1", host: "127.0.0.2", slots: 2, shuffleAddress: "127.0.0.2:7337", registeredAtMs: T0 } },
  },
  {
    seq: 2,
    timeMs: T0 + 1,
    jobId: "",
    body: { type: "executorAdded", executor: { executorId: "exec-2", nodeId: "node-2", host: "127.0.0.3", slots: 2, shuffleAddress: "127.0.0.3:7337", registeredAtMs: T0 + 1 } },
  },
];

/**
 * One job, seq 3..16: two stages (a map stage with two tasks, one of which
 * fails once and is retried, and a result stage with one task), ending
 * succeeded; then exec-2 is removed.
 */
export function jobEvents(jobId = "job-1"): HistoryEvent[] {
  let seq = 2;
  const at = (offset: number, body: HistoryEvent["body"], job = jobId): HistoryEvent => ({ seq: ++seq, timeMs: T0 + offset, jobId: job, body });
  const task = (taskId: string, stageId: number, partition: number, attempt: number, executorId: string) =>
    ({ type: "taskStarted", taskId, stageId, stageAttempt: 0, partition, attempt, executorId, nodeId: executorId.replace("exec", "node") }) as const;
  const ended = (taskId: string, stageId: number, partition: number, executorId: string, state: "succeeded" | "failed", durationMs: number) =>
    ({
      type: "taskEnded",
      taskId,
      stageId,
      partition,
      state,
      durationMs,
      executorId,
      ...(state === "failed" ? { error: { message: "boom", stack: "at wordcount.ts:7", kind: "user_error" } } : {}),
    }) as const;
  return [
    at(10, { type: "jobSubmitted", name: "wordcount", numStages: 2, traceId: "0af7651916cd43dd8448eb211c80319c" }),
    at(11, { type: "stageSubmitted", stageId: 0, attempt: 0, name: "map at wordcount.ts:7", numTasks: 2, partitions: [0, 1], parentStageIds: [] }),
    at(12, task("t-0-0-0", 0, 0, 0, "exec-1")),
    at(13, task("t-0-1-0", 0, 1, 0, "exec-2")),
    at(20, ended("t-0-0-0", 0, 0, "exec-1", "succeeded", 8)),
    at(21, ended("t-0-1-0", 0, 1, "exec-2", "failed", 8)),
    at(22, task("t-0-1-1", 0, 1, 1, "exec-1")),
    at(30, ended("t-0-1-1", 0, 1, "exec-1", "succeeded", 8)),
    at(31, { type: "stageEnded", stageId: 0, attempt: 0, status: "succeeded", reason: "" }),
    at(32, { type: "stageSubmitted", stageId: 1, attempt: 0, name: "reduceByKey at wordcount.ts:9", numTasks: 1, partitions: [0], parentStageIds: [0] }),
    at(33, task("t-1-0-0", 1, 0, 0, "exec-1")),
    at(40, ended("t-1-0-0", 1, 0, "exec-1", "succeeded", 7)),
    at(41, { type: "stageEnded", stageId: 1, attempt: 0, status: "succeeded", reason: "" }),
    at(42, {
      type: "jobEnded",
      status: "succeeded",
      stats: { tasksLaunched: 4, taskAttemptsFailed: 1, stageAttempts: 2, wallTimeMs: 32, shuffleBytesWritten: 1024, inputBytes: 4096, recomputedTasks: 0, lostMapOutputs: 0 },
    }),
    at(50, { type: "executorRemoved", executorId: "exec-2", reason: "heartbeat timeout" }, ""),
  ];
}

/** Executors, then one job: the whole sequence, seq 1..17. */
export const applicationEvents = (jobId = "job-1"): HistoryEvent[] => [...EXECUTOR_EVENTS, ...jobEvents(jobId)];
