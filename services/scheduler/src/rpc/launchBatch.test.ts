import { describe, expect, it } from "vitest";
import type { ExecutorSessionResponse } from "@ballast/gen/scheduler";
import type { TaskLaunch } from "../core/types.js";
import { LaunchBatcher } from "./launchBatch.js";

const task = (partition: number): TaskLaunch => ({
  taskId: `job-1.0.0.${partition}.0`,
  jobId: "job-1",
  stageId: 0,
  stageAttempt: 0,
  partition,
  attempt: 0,
  bundleDigest: "0".repeat(64),
  plan: { jobName: "j", datasets: [], shuffles: [], finalDatasetId: 0, action: "count", outputUri: "", args: [], inputs: [], graphHash: "h" },
  datasetId: 0,
  shuffleReads: [],
  conf: {},
});

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("LaunchBatcher", () => {
  it("sends the launches of one turn as one message, the plan only with the first", async () => {
    const sent: ExecutorSessionResponse[] = [];
    const out = new LaunchBatcher((m) => sent.push(m), () => 7);
    for (let p = 0; p < 3; p++) out.launch(task(p), "");
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toHaveLength(1);
    const batch = sent[0]!.message;
    if (batch?.$case !== "launchTasks") throw new Error(`expected launchTasks, got ${batch?.$case}`);
    expect(batch.value.tasks.map((t) => [t.partition, t.planCached, t.plan !== undefined, t.epoch])).toEqual([[0, false, true, 7], [1, true, false, 7], [2, true, false, 7]]);
  });

  it("a lone launch goes as LaunchTask, and a kill never overtakes the launch before it", async () => {
    const sent: ExecutorSessionResponse[] = [];
    const out = new LaunchBatcher((m) => sent.push(m), () => 1);
    out.launch(task(0), "");
    out.write({ message: { $case: "killTask", value: { taskId: task(0).taskId, reason: "r", epoch: 1 } } });
    expect(sent.map((m) => m.message?.$case)).toEqual(["launchTask", "killTask"]);
    await nextTurn();
    expect(sent).toHaveLength(2);
  });
});
