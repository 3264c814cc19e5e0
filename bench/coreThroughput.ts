import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobStatus, TaskState } from "@ballast/gen/common";
import { SchedulerServiceClient, type ExecutorSessionResponse } from "@ballast/gen/scheduler";
import { freePort } from "@ballast/cli/cluster";
import { call, createClient, isServing } from "@ballast/common/grpc";
import type { Plan } from "@ballast/common/plan";
import { planToWire } from "@ballast/common/wire/plan";
import { createState, step } from "@ballast/scheduler/core";
import type { HistoryEvent, Input } from "@ballast/scheduler/core/types";
import { SqliteSchedulerStore } from "@ballast/scheduler/store/sqliteSchedulerStore";
import { benchSecurity } from "./support.js";

export function emptyTaskPlan(tasks: number): Plan {
  return {
    jobName: "empty-tasks",
    datasets: [{ id: 0, op: "range", parentIds: [], numPartitions: tasks, wide: false, callSite: "bench", uri: "" }],
    shuffles: [],
    finalDatasetId: 0,
    action: "count",
    outputUri: "",
    args: [],
    inputs: [],
    graphHash: "bench",
  };
}

/**
 * Scheduler throughput without the network: the real core and the real
 * SQLite input log, with 2 executors of 2 slots that finish every task at once.
 */
export async function measureCoreThroughput(tasks: number): Promise<{ tasksPerSecond: number }> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-core-bench-"));
  const store = new SqliteSchedulerStore(dir);
  const taken = await store.lease.tryAcquire("bench", "bench", 60_000);
  if (!taken.acquired) throw new Error("the bench store's lease is taken");
  const epoch = taken.lease.epoch;
  const state = createState();
  const queue: Input[] = [
    { type: "executorRegistered", executor: { executorId: "e1", nodeId: "n1", host: "h1", slots: 2, shuffleAddress: "h1:1" } },
    { type: "executorRegistered", executor: { executorId: "e2", nodeId: "n2", host: "h2", slots: 2, shuffleAddress: "h2:1" } },
    { type: "jobSubmitted", jobId: "job-1", plan: emptyTaskPlan(tasks), bundleDigest: "0".repeat(64), conf: {}, traceparent: "" },
  ];
  let now = 1_000_000;
  let finished = false;
  let seq = 0;
  const started = performance.now();
  while (queue.length > 0) {
    const input = queue.shift()!;
    const record = { seq: ++seq, now, input, events: [] as HistoryEvent[], jobs: [] };
    for (const command of step(state, input, now++)) {
      if (command.type === "launchTask") {
        queue.push({ type: "taskUpdate", executorId: command.executorId, taskId: command.task.taskId, state: "succeeded", count: 0 });
      } else if (command.type === "emitEvent") {
        record.events.push(command.event);
        if (command.event.type === "jobEnded") finished = true;
      }
    }
    // One input per transaction: the core and the log's own cost, without group commit.
    await store.append([record], epoch);
  }
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (!finished) throw new Error("the benchmark job did not finish");
  return { tasksPerSecond: tasks / seconds };
}

/**
 * The real scheduler process over gRPC: simulated executors (in this
 * process) hold real sessions and report every launched task done at once,
 * so the figure is the scheduler service's own throughput. `store`: a
 * postgresql:// URL (default: SQLite in a temp dir).
 */
export async function measureSchedulerService(tasks: number, executors = 4, slots = 64, store?: string): Promise<{ tasksPerSecond: number }> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-sched-bench-"));
  benchSecurity();
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--import", "tsx", "services/scheduler/src/main.ts", "--address", address, "--data-dir", dir], { stdio: "ignore", env: { ...process.env, BALLAST_LOG_LEVEL: "warn", ...(store ? { BALLAST_STORE: store } : {}) } });
  const sessions: Array<ReturnType<SchedulerClient["executorSession"]>> = [];
  const client = createClient(SchedulerServiceClient, address);
  try {
    const deadline = Date.now() + 30_000;
    while (!(await isServing(address, 500))) if (Date.now() > deadline) throw new Error("scheduler did not start");
    await waitForLeader(client);
    for (let i = 0; i < executors; i++) {
      const session = client.executorSession();
      session.on("data", (message: ExecutorSessionResponse) => {
        if (message.message?.$case !== "launchTask") return;
        session.write({ message: { $case: "taskUpdate", value: { taskId: message.message.value.taskId, state: TaskState.TASK_STATE_SUCCEEDED, result: { records: Buffer.alloc(0), count: 0 } } } } as any);
      });
      session.on("error", () => undefined);
      session.write({ message: { $case: "register", value: { executorId: `sim-${i}`, nodeId: `sim-node-${i}`, host: "127.0.0.1", slots, shuffleAddress: `127.0.0.1:${1000 + i}`, executorAddress: "", runningTaskIds: [], lastEpoch: 0, cachedPartitions: [], cachedOnDisk: [], cachedOnDiskListed: false, runningDrivers: [], queuedSlots: 0 } } });
      sessions.push(session);
    }
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    const { jobId } = await call(client.submitJob.bind(client), { plan: planToWire(emptyTaskPlan(tasks)), bundleDigest: "0".repeat(64), conf: {}, submissionId: "", applicationId: "" });
    await new Promise<void>((resolve, reject) => {
      const watch = client.watchJob({ jobId });
      watch.on("data", (res: { job?: { status: number } }) => {
        if (res.job && res.job.status !== JobStatus.JOB_STATUS_RUNNING) resolve();
      });
      watch.on("error", reject);
    });
    return { tasksPerSecond: tasks / ((performance.now() - started) / 1000) };
  } finally {
    for (const s of sessions) s.cancel();
    client.close();
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

type SchedulerClient = InstanceType<typeof SchedulerServiceClient>;

async function waitForLeader(client: SchedulerClient): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await call(client.getLeader.bind(client), {}, 1000).then((r) => r.isLeader, () => false))) {
    if (Date.now() > deadline) throw new Error("scheduler did not take the lease");
    await new Promise((r) => setTimeout(r, 100));
  }
}
