import type { PublishedEvent as HistoryEvent } from "@ballast/common/domain/events";

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
      stats: { tasksLaunched: 4, taskAttemptsFailed: 1, stageAttempts: 2, wallTimeMs: 32, shuffleBytesWritten: 1024, inputBytes: 4096, recomputedTasks: 0, lostMapOutputs: 0, spills: 0, spilledBytes: 0, cachedPartitionsRead: 0 },
    }),
    at(50, { type: "executorRemoved", executorId: "exec-2", reason: "heartbeat timeout" }, ""),
  ];
}

/** Executors, then one job: the whole sequence, seq 1..17. */
export const applicationEvents = (jobId = "job-1"): HistoryEvent[] => [...EXECUTOR_EVENTS, ...jobEvents(jobId)];

export const HOUR_MS = 3_600_000;

/**
 * What follows applicationEvents(), seq 18..32: exec-3 joins on node-3; exec-1
 * is excluded, then its whole node; job-2 starts and a stage-scoped exclusion
 * (log only) keeps node-1 off its stage 0; node-3 is decommissioned, migrates
 * three outputs but not a fourth, which job-2 loses and recomputes; a
 * scheduler failover happens; exec-1's own exclusion is lifted (its node's stays).
 */
export function recoveryEvents(): HistoryEvent[] {
  let seq = 17;
  const at = (offset: number, body: HistoryEvent["body"], jobId = ""): HistoryEvent => ({ seq: ++seq, timeMs: T0 + offset, jobId, body });
  const exclusion = (scope: "executor" | "node", id: string, excluded: boolean, reason: string, stageId?: number) =>
    ({ type: "exclusionChanged", scope, id, excluded, untilMs: excluded ? T0 + HOUR_MS : 0, reason, stageScoped: stageId !== undefined, stageId: stageId ?? 0 }) as const;
  const decommission = (phase: string, reason = "") => ({ type: "decommissionChanged", nodeId: "node-3", phase, deadlineMs: phase === "requested" ? T0 + 120_000 : 0, reason }) as const;
  return [
    at(60, { type: "executorAdded", executor: { executorId: "exec-3", nodeId: "node-3", host: "127.0.0.4", slots: 2, shuffleAddress: "127.0.0.4:7337", registeredAtMs: T0 + 60 } }),
    at(61, exclusion("executor", "exec-1", true, "2 failed tasks in successful stages")),
    at(62, { type: "jobSubmitted", name: "join", numStages: 2, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" }, "job-2"),
    at(63, exclusion("node", "node-1", true, "stage 0 failed twice on it", 0), "job-2"),
    at(64, decommission("requested", "scale-in")),
    at(70, { type: "shuffleMigrated", nodeId: "node-3", outputs: 3, bytes: 3072, durationMs: 6, targetAddresses: "127.0.0.2:7337", outputsNotMigrated: 1 }),
    at(71, decommission("migrated")),
    at(72, { type: "mapOutputsLost", stageId: 0, shuffleId: "job-2/shuffle-0", mapIndexes: [3], reason: "not migrated off node-3" }, "job-2"),
    at(73, { type: "taskResubmitted", taskId: "t2-1-0-0", stageId: 1, partition: 0, reason: "executor exec-3 decommissioned" }, "job-2"),
    at(74, { type: "stageResubmitted", stageId: 0, partitions: [3], reason: "missing map outputs" }, "job-2"),
    at(75, { type: "executorRemoved", executorId: "exec-3", reason: "decommissioned" }),
    at(76, decommission("decommissioned")),
    at(80, { type: "schedulerFailover", epoch: 2, downtimeMs: 1500, jobsRecovered: 1, leaderAddress: "127.0.0.1:7077" }),
    at(81, exclusion("node", "node-1", true, "2 excluded executors")),
    at(82, exclusion("executor", "exec-1", false, "exclusion timed out")),
  ];
}

/** A deterministic shuffle (xorshift), so a failing order reproduces. */
export function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = Math.abs(x) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
