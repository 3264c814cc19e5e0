import { describe, expect, it } from "vitest";
import { executorViews, jobView, listJobs, runningTaskIds } from "./index.js";
import { cluster, eventsIn, launchesIn } from "./testing/harness.js";
import { planOf, dataset, singleStagePlan, threeStagePlan } from "./testing/plans.js";

describe("a job runs to success", () => {
  it("runs a 3-stage plan stage by stage with the right launches", () => {
    const h = cluster();
    const submitted = h.submit("j1", threeStagePlan(4, 3, 2));
    expect(eventsIn(submitted, "jobSubmitted")).toEqual([{ jobId: "j1", timeMs: 0, type: "jobSubmitted", name: "test-job", numStages: 3 }]);
    expect(submitted[0]).toMatchObject({ type: "spanStart", key: "job:j1", name: "job test-job" });
    const first = launchesIn(submitted);
    expect(first.map((launch) => [launch.executorId, launch.task.taskId])).toEqual([
      ["e1", "j1.0.0.0.0"],
      ["e2", "j1.0.0.1.0"],
      ["e1", "j1.0.0.2.0"],
      ["e2", "j1.0.0.3.0"],
    ]);
    expect(first[0]!.task).toMatchObject({ datasetId: 1, shuffleReads: [], shuffleWrite: { shuffleIndex: 0, shuffleId: "j1-sh0", numReducePartitions: 3 } });
    // Each task span starts right before its launch.
    const launchAt = submitted.findIndex((command) => command.type === "launchTask");
    expect(submitted[launchAt - 1]).toMatchObject({ type: "spanStart", key: "task:j1.0.0.0.0", parentKey: "stage:j1:0.0" });

    for (const taskId of h.liveIds(0).slice(0, 3)) expect(launchesIn(h.succeed(taskId))).toEqual([]);
    const stage1 = launchesIn(h.succeed("j1.0.0.3.0"));
    expect(stage1.map((launch) => launch.task.taskId)).toEqual(["j1.1.0.0.0", "j1.1.0.1.0", "j1.1.0.2.0"]);
    expect(stage1[0]!.task.shuffleReads).toEqual([
      {
        shuffleIndex: 0,
        shuffleId: "j1-sh0",
        numMaps: 4,
        locations: [0, 1, 2, 3].map((mapIndex) => ({ mapIndex, attempt: 0, shuffleAddress: `n${(mapIndex % 2) + 1}:7337`, nodeId: `n${(mapIndex % 2) + 1}` })),
      },
    ]);
    h.runAll();
    const view = jobView(h.state, "j1")!;
    expect(view.status).toBe("succeeded");
    expect(view.result).toEqual({ action: "collect", partitionRecords: [Uint8Array.of(0), Uint8Array.of(1)], count: 2, outputUri: "" });
    expect(view.stages.map((stage) => [stage.stageId, stage.status, stage.completedTasks, stage.numTasks])).toEqual([
      [0, "succeeded", 4, 4],
      [1, "succeeded", 3, 3],
      [2, "succeeded", 2, 2],
    ]);
    expect(view.stats).toMatchObject({ tasksLaunched: 9, taskAttemptsFailed: 0, stageAttempts: 3, shuffleBytesWritten: 4 * 30 + 3 * 20, inputBytes: 900, recomputedTasks: 0 });
    const removal = h.log.find((command) => command.type === "removeShuffles");
    expect(removal).toEqual({ type: "removeShuffles", jobId: "j1", shuffleIds: ["j1-sh0", "j1-sh1"], shuffleAddresses: ["n1:7337", "n2:7337"] });
    expect(eventsIn(h.log, "jobEnded")).toHaveLength(1);
    expect(h.log.filter((command) => command.type === "spanEnd" && command.key === "job:j1")).toHaveLength(1);
    expect(executorViews(h.state).map((executor) => executor.runningTasks)).toEqual([0, 0]);
  });

  it("emits one jobChanged per step and none for heartbeats", () => {
    const h = cluster();
    const commands = h.submit("j1", singleStagePlan(3));
    expect(commands.filter((command) => command.type === "jobChanged")).toEqual([{ type: "jobChanged", jobId: "j1" }]);
    expect(h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: h.liveIds() })).toEqual([]);
  });

  it("runs jobs FIFO and finishes a job with no partitions at once", () => {
    const h = cluster(1, 1);
    h.submit("a", singleStagePlan(2));
    h.submit("b", singleStagePlan(1));
    expect(h.liveIds()).toEqual(["a.0.0.0.0"]);
    expect(launchesIn(h.succeed("a.0.0.0.0"))[0]!.task.taskId).toBe("a.0.0.1.0");
    expect(launchesIn(h.succeed("a.0.0.1.0"))[0]!.task.taskId).toBe("b.0.0.0.0");
    h.submit("empty", singleStagePlan(0));
    expect(jobView(h.state, "empty")!.status).toBe("succeeded");
    expect(listJobs(h.state).map((job) => job.jobId)).toEqual(["a", "b", "empty"]);
  });

  it("fails a malformed plan with a clear error instead of throwing", () => {
    const h = cluster();
    h.submit("bad", planOf([dataset(0, "map", [9], 2)], [], 0));
    expect(jobView(h.state, "bad")).toMatchObject({ status: "failed", error: { kind: "invalidPlan", message: expect.stringMatching(/unknown parent 9/) } });
  });
});

describe("task failures", () => {
  it("retries on another executor, then aborts with the user's message and stack", () => {
    const h = cluster(2, 1);
    h.submit("j", singleStagePlan(1));
    const failure = { kind: "userError" as const, message: "TypeError: x is undefined", stack: "at job.ts:3" };
    const placements: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const retry = launchesIn(h.fail(`j.0.0.0.${attempt}`, failure));
      expect(retry).toHaveLength(1);
      placements.push(retry[0]!.executorId);
    }
    expect(placements).toEqual(["e2", "e1", "e2"]);
    const last = h.fail("j.0.0.0.3", failure);
    expect(launchesIn(last)).toEqual([]);
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("failed");
    expect(view.error).toEqual({ kind: "userError", message: "Task 0 of stage 0 failed 4 times; most recent failure: TypeError: x is undefined", stack: "at job.ts:3" });
    expect(view.stats.taskAttemptsFailed).toBe(4);
    expect(eventsIn(last, "jobEnded")[0]).toMatchObject({ status: "failed", error: view.error });
  });

  it("honours ballast.task.maxFailures and kills the job's other running tasks on abort", () => {
    const h = cluster(2, 2);
    h.submit("j", singleStagePlan(3), { "ballast.task.maxFailures": "1", "ballast.excludeOnFailure.enabled": "false" });
    const aborted = h.fail("j.0.0.0.0", { kind: "executorError", message: "worker crashed" });
    expect(aborted.filter((command) => command.type === "killTask").map((command) => command.type === "killTask" && command.taskId)).toEqual(["j.0.0.1.0", "j.0.0.2.0"]);
    expect(jobView(h.state, "j")!.error!.message).toBe("Task 0 of stage 0 failed 1 times; most recent failure: worker crashed");
    // Killed tasks hold their slots until the executor reports them.
    expect(runningTaskIds(h.state, "e2")).toEqual(["j.0.0.1.0"]);
    h.send({ type: "taskUpdate", executorId: "e2", taskId: "j.0.0.1.0", state: "killed" });
    expect(runningTaskIds(h.state, "e2")).toEqual([]);
    // ...or stops listing them in its heartbeat.
    h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: [] });
    expect(runningTaskIds(h.state, "e1")).toEqual([]);
  });

  it("ignores updates for unknown tasks and from the wrong executor", () => {
    const h = cluster();
    h.submit("j", singleStagePlan(1));
    expect(h.send({ type: "taskUpdate", executorId: "e1", taskId: "nope", state: "succeeded" })).toEqual([]);
    expect(h.send({ type: "taskUpdate", executorId: "e2", taskId: "j.0.0.0.0", state: "succeeded" })).toEqual([]);
    expect(jobView(h.state, "j")!.status).toBe("running");
  });
});

describe("executor loss", () => {
  it("resubmits running tasks without counting failures and keeps map outputs", () => {
    const h = cluster(2, 2);
    h.submit("j", threeStagePlan(4, 3, 2));
    h.succeed("j.0.0.0.0"); // e1, map 0
    h.succeed("j.0.0.1.0"); // e2, map 1
    const lost = h.loseExecutor("e1");
    expect(eventsIn(lost, "executorRemoved")).toEqual([{ jobId: "", timeMs: 0, type: "executorRemoved", executorId: "e1", reason: "process exited" }]);
    expect(eventsIn(lost, "taskResubmitted").map((event) => event.taskId)).toEqual(["j.0.0.2.0"]);
    // Map 2 goes to e2 (with attempt 1), map 0's output (on e1's node) stays registered.
    expect(launchesIn(lost).map((launch) => [launch.executorId, launch.task.taskId])).toEqual([["e2", "j.0.0.2.1"]]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(view.stats).toMatchObject({ taskAttemptsFailed: 0, lostMapOutputs: 0, recomputedTasks: 0, stageAttempts: 3 });
    const stage1Launch = launchesIn(h.log).find((launch) => launch.task.stageId === 1)!;
    expect(stage1Launch.task.shuffleReads[0]!.locations.map((location) => location.nodeId)).toEqual(["n1", "n2", "n2", "n2"]);
  });

  it("resubmits a task its executor stopped reporting (restarted under the same id)", () => {
    const h = cluster(1, 2, { "ballast.executor.heartbeatInterval": "1s" });
    h.submit("j", singleStagePlan(2));
    // Within the grace period a missing task may simply not have arrived yet.
    expect(h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: ["j.0.0.1.0"] }, 1999)).toEqual([]);
    const reconciled = h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: ["j.0.0.1.0"] }, 1);
    expect(eventsIn(reconciled, "taskResubmitted").map((event) => event.taskId)).toEqual(["j.0.0.0.0"]);
    expect(launchesIn(reconciled).map((launch) => launch.task.taskId)).toEqual(["j.0.0.0.1"]);
    expect(jobView(h.state, "j")!.stats.taskAttemptsFailed).toBe(0);
  });

  it("detects silent executors on tick and revives them on re-registration", () => {
    const h = cluster(2, 2, { "ballast.executor.heartbeatTimeout": "5s" });
    h.submit("j", singleStagePlan(2));
    h.send({ type: "heartbeat", executorId: "e2", runningTaskIds: ["j.0.0.1.0"] }, 3000);
    expect(h.tick(2000).filter((command) => command.type === "emitEvent")).toEqual([]);
    const timedOut = h.tick(1);
    expect(eventsIn(timedOut, "executorRemoved")).toEqual([
      { jobId: "", timeMs: 5001, type: "executorRemoved", executorId: "e1", reason: "no heartbeat for 5001ms (timeout 5000ms)" },
    ]);
    expect(launchesIn(timedOut).map((launch) => [launch.executorId, launch.task.taskId])).toEqual([["e2", "j.0.0.0.1"]]);
    expect(eventsIn(timedOut, "taskResubmitted").map((event) => event.taskId)).toEqual(["j.0.0.0.0"]);
    expect(executorViews(h.state).find((executor) => executor.executorId === "e1")).toMatchObject({ alive: false, lostReason: expect.stringMatching(/no heartbeat/) });
    const revived = h.addExecutor("e1", "n1", 2);
    expect(eventsIn(revived, "executorAdded")[0]!.executor).toMatchObject({ executorId: "e1", alive: true, registeredAtMs: 5001 });
  });
});
