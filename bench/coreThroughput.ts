import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Plan } from "../packages/common/src/plan.js";
import { createState, step } from "../services/scheduler/src/core/index.js";
import type { Input } from "../services/scheduler/src/core/types.js";
import { SqliteSchedulerStore } from "../services/scheduler/src/store/schedulerStore.js";

function emptyTaskPlan(tasks: number): Plan {
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
export function measureCoreThroughput(tasks: number): { tasksPerSecond: number } {
  const dir = mkdtempSync(join(tmpdir(), "ballast-core-bench-"));
  const store = new SqliteSchedulerStore(dir);
  const epoch = store.lease.tryAcquire("bench", "bench", Date.now(), 60_000)!.lease.epoch;
  const state = createState();
  const queue: Input[] = [
    { type: "executorRegistered", executor: { executorId: "e1", nodeId: "n1", host: "h1", slots: 2, shuffleAddress: "h1:1" } },
    { type: "executorRegistered", executor: { executorId: "e2", nodeId: "n2", host: "h2", slots: 2, shuffleAddress: "h2:1" } },
    { type: "jobSubmitted", jobId: "job-1", plan: emptyTaskPlan(tasks), bundleDigest: "0".repeat(64), conf: {}, traceparent: "" },
  ];
  let now = 1_000_000;
  let finished = false;
  const started = performance.now();
  while (queue.length > 0) {
    const input = queue.shift()!;
    store.appendInput(input, now, epoch);
    for (const command of step(state, input, now++)) {
      if (command.type === "launchTask") {
        queue.push({ type: "taskUpdate", executorId: command.executorId, taskId: command.task.taskId, state: "succeeded", count: 0 });
      } else if (command.type === "emitEvent") {
        store.appendEvent(command.event);
        if (command.event.type === "jobEnded") finished = true;
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  if (!finished) throw new Error("the benchmark job did not finish");
  return { tasksPerSecond: tasks / seconds };
}
