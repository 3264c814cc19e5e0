import { existsSync, readFileSync } from "node:fs";
import { expect } from "vitest";
import { isAlive } from "@ballast/cli/cluster";
import type { TaskEvent } from "../support/faults.js";
import type { HostCluster } from "./cluster.js";

/**
 * The invariants every partition scenario must keep, checked over the run's records:
 * - exactly one committed attempt per output partition: one part file per reduce partition
 *   (the word counts, checked by the runner, fail on a partition written twice), and history
 *   shows one successful result-stage attempt per partition;
 * - never two schedulers launching under one epoch: every executor registration names the
 *   scheduler it registered with and its epoch, and each epoch has one scheduler; failovers
 *   in history move to strictly higher epochs.
 * It returns what it saw so a scenario can assert its own story (a failover, fenced commands...).
 */
export interface RunReport {
  history: Array<Record<string, any>>;
  tasks: TaskEvent[];
  /** epoch -> the scheduler addresses executors registered with under it. */
  leadersByEpoch: Map<number, Set<string>>;
  /** Executor log lines where a command from an older epoch was dropped. */
  fenced: Array<Record<string, any>>;
  executorLogs: Array<Record<string, any>>;
  /** Per scheduler instance: still running at the end, and what it warned about. */
  schedulers: Array<{ instance: string; alive: boolean; warnings: string[] }>;
}

export function checkRun(cluster: HostCluster, history: Array<Record<string, any>>, tasks: TaskEvent[], parts: string[]): RunReport {
  const executorLogs = executorLogLines(cluster);
  const leadersByEpoch = new Map<number, Set<string>>();
  for (const line of executorLogs.filter((l) => l.msg === "registered with scheduler")) {
    const leaders = leadersByEpoch.get(line.epoch) ?? new Set<string>();
    leaders.add(line.scheduler);
    leadersByEpoch.set(line.epoch, leaders);
  }
  for (const [epoch, leaders] of leadersByEpoch) expect([...leaders], `two schedulers led epoch ${epoch}`).toHaveLength(1);
  const failoverEpochs = history.filter((e) => e.type === "schedulerFailover").map((e) => e.epoch as number);
  expect(failoverEpochs, "failovers must move to ever higher epochs").toEqual([...failoverEpochs].sort((a, b) => a - b));
  expect(new Set(failoverEpochs).size, "two failovers to one epoch").toBe(failoverEpochs.length);

  // A job's result stage is its last; count successful attempts per (job, output partition).
  const resultStage = new Map<string, number>();
  for (const e of history) if (e.type === "taskStarted") resultStage.set(e.jobId, Math.max(resultStage.get(e.jobId) ?? 0, e.stageId));
  const committed = new Map<string, number>();
  for (const e of history) {
    if (e.type === "taskEnded" && e.state === "succeeded" && e.stageId === resultStage.get(e.jobId)) committed.set(`${e.jobId}/${e.partition}`, (committed.get(`${e.jobId}/${e.partition}`) ?? 0) + 1);
  }
  expect(resultStage.size, "one job per run").toBe(1);
  expect(parts.length, "one part file per output partition").toBe(committed.size);
  for (const [partition, times] of committed) expect(times, `output partition ${partition} committed ${times} times`).toBe(1);

  const fenced = executorLogs.filter((l) => l.msg === "ignoring a command from an older scheduler epoch");
  const schedulers = cluster.services
    .filter((s) => s.name === "scheduler")
    .map((s) => ({ instance: s.instance!, alive: isAlive(s.pid), warnings: jsonLines(s.log).filter((l) => l.level >= 40).map((l) => `${l.msg}${l.reason ? `: ${l.reason}` : ""}`) }));
  return { history, tasks, leadersByEpoch, fenced, executorLogs, schedulers };
}

/** Every executor's JSON log lines so far, each tagged with its node. */
export function executorLogLines(cluster: HostCluster): Array<Record<string, any>> {
  return cluster.services.filter((s) => s.name === "executor").flatMap((s) => jsonLines(s.log).map((l) => ({ ...l, executor: s.nodeId })));
}

/** The scheduler instance's JSON log lines so far ("scheduler-1"). */
export function schedulerLogLines(cluster: HostCluster, instance: string): Array<Record<string, any>> {
  return jsonLines(cluster.services.find((s) => s.instance === instance)!.log);
}

function jsonLines(file: string): Array<Record<string, any>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return {};
      }
    });
}

/** The run's history as one line per event, for a scenario's step-by-step story in the test output. */
export function storyOf(history: Array<Record<string, any>>, types: string[]): string[] {
  return history.filter((e) => types.includes(e.type)).map((e) => `${e.type}${e.stageId !== undefined ? ` stage ${e.stageId}` : ""}${e.partition !== undefined ? `.${e.partition}` : ""}${e.state ? ` ${e.state}` : ""}${e.epoch ? ` epoch ${e.epoch}` : ""}${e.executorId ? ` on ${e.executorId}` : ""}${e.reason ? ` (${e.reason})` : ""}`);
}
