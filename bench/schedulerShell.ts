// `npm run bench -- shell`: the scheduler process's own work per task, without the network or a
// loaded machine's noise in gRPC: the real shell (core, SQLite log with group commit, spans,
// outbox reads) and the real launch batching and protobuf encoding of what goes to executors.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecutorSessionResponse } from "@ballast/gen/scheduler";
import { createLogger } from "@ballast/common/logging";
import { initTelemetry } from "@ballast/common/telemetry";
import type { Input, TaskReport } from "@ballast/scheduler/core/types";
import { LaunchBatcher } from "@ballast/scheduler/rpc/launchBatch";
import { SchedulerShell, type ExecutorChannel, type ShellEffects } from "@ballast/scheduler/shell";
import { SqliteSchedulerStore } from "@ballast/scheduler/store/sqliteSchedulerStore";
import { emptyTaskPlan } from "./coreThroughput.js";
import { EMPTY_TASKS } from "./tasks.js";
import { row } from "./support.js";

const ROUNDS = 5;
/** As the tasks bench's executors: one slot and the default queue of 32 each. */
const EXECUTORS = [
  { executorId: "e1", nodeId: "n1", host: "h1", slots: 33, queuedSlots: 32, shuffleAddress: "h1:1" },
  { executorId: "e2", nodeId: "n2", host: "h2", slots: 33, queuedSlots: 32, shuffleAddress: "h2:1" },
];

const EMPTY_TASK_METRICS = { durationMs: 0, inputBytes: 0, shuffleBytesWritten: 0, shuffleBytesRead: 0, recordsOut: 0, spills: 0, spilledBytes: 0 };

export async function schedulerShellBench(): Promise<void> {
  await initTelemetry("bench-scheduler-shell");
  const perTask: number[] = [];
  for (let round = 0; round < ROUNDS; round++) perTask.push(await shellCpuPerTask(EMPTY_TASKS));
  console.log(`\n== scheduler shell in one process: ${EMPTY_TASKS} empty tasks, 2 simulated executors answering each launch message at once`);
  row("CPU per task", `${Math.min(...perTask).toFixed(1)} us best of ${ROUNDS} (all: ${perTask.map((us) => us.toFixed(1)).join(", ")}); no gRPC transport, no history calls`);
}

/** One job through a fresh shell; the process's CPU (user + system) per task, in microseconds. */
async function shellCpuPerTask(tasks: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-shell-bench-"));
  const store = new SqliteSchedulerStore(dir);
  const taken = await store.lease.tryAcquire("bench", "bench", 60_000);
  if (!taken.acquired) throw new Error("the bench store's lease is taken");
  const epoch = taken.lease.epoch;
  let published = 0;
  // The outbox's store work (history itself is not called): read what is new, mark it published.
  const effects: ShellEffects = {
    removeShuffles() {},
    eventsAppended() {
      void store.eventsAfter(published, 500).then((batch) => {
        if (batch.length === 0) return;
        published = batch.at(-1)!.seq;
        return store.markPublished(published);
      });
    },
    probeShuffleService() {},
    migrateShuffle() {},
    leaseLost() {},
  };
  const shell = new SchedulerShell(store, createLogger("bench"), effects, epoch);
  for (const executor of EXECUTORS) {
    shell.attachExecutor(executor.executorId, simulatedExecutor(shell, executor.executorId, epoch));
    shell.dispatch({ type: "executorRegistered", executor: { ...executor, runningTaskIds: [], cachedPartitions: [], runningDrivers: [] } });
  }
  await shell.settled();
  const finished = new Promise<void>((resolve) => shell.watch("job-1", (view) => view.status !== "running" && resolve()));
  const before = process.cpuUsage();
  shell.dispatch({ type: "jobSubmitted", jobId: "job-1", plan: emptyTaskPlan(tasks), bundleDigest: "0".repeat(64), conf: {}, traceparent: "" });
  await finished;
  const used = process.cpuUsage(before);
  await shell.settled();
  shell.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return (used.user + used.system) / tasks;
}

/** Encodes each launch message as the session would, and reports its tasks succeeded in one message, a turn later. */
function simulatedExecutor(shell: SchedulerShell, executorId: string, epoch: number): ExecutorChannel {
  const out = new LaunchBatcher((message) => {
    ExecutorSessionResponse.encode(message).finish();
    const launched = message.message?.$case === "launchTasks" ? message.message.value.tasks : message.message?.$case === "launchTask" ? [message.message.value] : [];
    const reports: TaskReport[] = launched.map((task) => ({ taskId: task.taskId, state: "succeeded", count: 0, metrics: EMPTY_TASK_METRICS }));
    const input: Input = reports.length === 1 ? { type: "taskUpdate", executorId, ...reports[0]! } : { type: "taskUpdates", executorId, updates: reports };
    if (reports.length > 0) setImmediate(() => shell.dispatch(input));
  }, () => epoch);
  const ignored = () => undefined;
  return { launch: (task, traceparent) => out.launch(task, traceparent), kill: ignored, revoke: ignored, close: ignored, shutdown: ignored, freeCachedDataset: ignored, launchDriver: ignored, stopDriver: ignored };
}
