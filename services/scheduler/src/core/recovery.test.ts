import { describe, expect, it } from "vitest";
import { jobView, step } from "./index.js";
import { cluster, eventsIn, finishStages, launchedIds, launchesIn } from "./testing/harness.js";
import { diamondPlan, singleStagePlan, threeStagePlan, twoStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

describe("fetch failures", () => {
  it("recomputes only the map output named by a corrupt-block failure", () => {
    const h = cluster(2, 2);
    h.submit("j", threeStagePlan(4, 3, 2));
    finishStages(h, 0, 1);
    expect(h.liveIds()).toEqual(["j.2.0.0.0", "j.2.0.1.0"]);
    const failed = h.fetchFail("j.2.0.0.0", 2);
    expect(eventsIn(failed, "mapOutputsLost")).toEqual([
      expect.objectContaining({ stageId: 1, shuffleId: "j-sh1", mapIndexes: [2], reason: expect.stringMatching(/^FetchFailed\(shuffle j-sh1, map 2/) }),
    ]);
    expect(eventsIn(failed, "stageEnded")).toEqual([expect.objectContaining({ stageId: 2, attempt: 0, status: "failed" })]);
    expect(launchedIds(failed)).toEqual([]);
    expect(launchedIds(h.tick(199))).toEqual([]); // still batching
    const resubmitted = h.tick(1);
    expect(eventsIn(resubmitted, "stageResubmitted")).toEqual([expect.objectContaining({ stageId: 1, partitions: [2] })]);
    expect(launchedIds(resubmitted)).toEqual(["j.1.1.2.1"]);
    const rerun = h.succeed("j.1.1.2.1");
    // The zombie result task j.2.0.1.0 is still running: partition 1 is rerun too (no output yet).
    expect(eventsIn(rerun, "stageSubmitted")).toEqual([expect.objectContaining({ stageId: 2, attempt: 1, partitions: [0, 1] })]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(view.stats).toMatchObject({ lostMapOutputs: 1, recomputedTasks: 1, stageAttempts: 5 });
    expect(view.stages.map((stage) => [stage.attempt, stage.failedAttempts])).toEqual([[0, 0], [1, 0], [1, 1]]);
  });

  it("unregisters a lost node's outputs and recomputes them in ONE resubmission, in dependency order", () => {
    const h = cluster(3, 2);
    h.submit("j", threeStagePlan(4, 3, 2));
    finishStages(h, 0, 1);
    // Node n1 held maps 0 and 3 of shuffle 0 and map 0 of shuffle 1; now it is gone.
    h.loseExecutor("e1", "node n1 down");
    const results = h.liveIds(2);
    expect(results).toEqual(["j.2.0.0.1", "j.2.0.1.0"]);
    const first = h.fetchFail(results[0]!, 0, { unreachable: true });
    expect(eventsIn(first, "mapOutputsLost").map((event) => [event.shuffleId, event.mapIndexes])).toEqual([
      ["j-sh0", [0, 3]],
      ["j-sh1", [0]],
    ]);
    const second = h.fetchFail(results[1]!, 0, { unreachable: true }, );
    expect(eventsIn(second, "mapOutputsLost")).toEqual([]);
    expect(eventsIn(second, "stageEnded")).toEqual([]); // the attempt already failed: counted once
    const window = h.tick(200);
    expect(eventsIn(window, "stageResubmitted").map((event) => [event.stageId, event.partitions])).toEqual([[0, [0, 3]]]);
    expect(launchedIds(window)).toEqual(["j.0.1.0.1", "j.0.1.3.1"]);
    finishStages(h, 0);
    const stage1 = eventsIn(h.log, "stageResubmitted").find((event) => event.stageId === 1);
    expect(stage1?.partitions).toEqual([0]);
    finishStages(h, 1);
    expect(eventsIn(h.log, "stageResubmitted").find((event) => event.stageId === 2)?.partitions).toEqual([0, 1]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(eventsIn(h.log, "stageResubmitted")).toHaveLength(3);
    expect(view.stats).toMatchObject({ lostMapOutputs: 3, recomputedTasks: 3 });
  });

  it("keeps a zombie attempt from launching while its running tasks still count", () => {
    const h = cluster(1, 2);
    h.submit("j", twoStagePlan(1, 3));
    finishStages(h, 0);
    expect(h.liveIds(1)).toEqual(["j.1.0.0.0", "j.1.0.1.0"]);
    const failed = h.fetchFail("j.1.0.0.0", 0);
    expect(launchedIds(failed)).toEqual([]); // a slot is free, partition 2 is pending, but the attempt is a zombie
    expect(launchedIds(h.succeed("j.1.0.1.0"))).toEqual([]);
    h.tick(200);
    finishStages(h, 0);
    const retry = eventsIn(h.log, "stageSubmitted").find((event) => event.stageId === 1 && event.attempt === 1);
    expect(retry?.partitions).toEqual([0, 2]); // partition 1 came from the zombie
    h.runAll();
    expect(jobView(h.state, "j")!.result!.partitionRecords).toEqual([0, 1, 2].map((partition) => Uint8Array.of(partition)));
  });

  it("holds a running stage whose parent lost outputs until they are recomputed", () => {
    const h = cluster(2, 2);
    h.submit("j", diamondPlan(3, 3, 2));
    finishStages(h, 0);
    // Stages 1 and 2 both read shuffle 0; two slots each way.
    expect(h.liveIds()).toEqual(["j.1.0.0.0", "j.1.0.1.0", "j.1.0.2.0", "j.2.0.0.0"]);
    h.fetchFail("j.1.0.0.0", 0, { unreachable: true }); // node n1 (maps 0 and 2 of shuffle 0) is gone
    // Stage 2 is still running, but launches nothing while shuffle 0 is incomplete.
    expect(launchedIds(h.succeed("j.2.0.0.0"))).toEqual([]);
    const window = h.tick(200);
    expect(eventsIn(window, "stageResubmitted").map((event) => [event.stageId, event.partitions])).toEqual([[0, [0, 2]]]);
    expect(launchedIds(window)).toEqual(["j.0.1.0.1", "j.0.1.2.1"]);
    h.succeed("j.0.1.0.1");
    const resumed = h.succeed("j.0.1.2.1");
    // Stage 2 resumes in its attempt 0; stage 1 gets attempt 1 (zombie tasks 1 and 2 still run).
    expect(launchedIds(resumed)).toEqual(["j.2.0.1.0", "j.2.0.2.0"]);
    expect(eventsIn(resumed, "stageSubmitted")).toEqual([expect.objectContaining({ stageId: 1, attempt: 1, partitions: [0, 1, 2] })]);
    expect(launchesIn(resumed).every((launch) => launch.task.shuffleReads[0]!.locations.length === 3)).toBe(true);
    h.runAll();
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
  });

  it("aborts with the chain of causes after maxConsecutiveAttempts", () => {
    const h = cluster(1, 2, {});
    h.submit("j", twoStagePlan(1, 1), { "ballast.stage.maxConsecutiveAttempts": "2", "ballast.scheduler.resubmitDelay": "0" });
    finishStages(h, 0);
    h.fetchFail("j.1.0.0.0", 0);
    finishStages(h, 0);
    const aborted = h.fetchFail("j.1.1.0.1", 0);
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("failed");
    expect(view.error!.kind).toBe("stageFailure");
    expect(view.error!.message).toMatch(/^Stage 1 \(reduceByKey at job\.ts:3\) failed 2 consecutive attempts; most recent failure: FetchFailed/);
    expect(view.error!.stack.split("\n")).toEqual([
      expect.stringMatching(/^caused by attempt 0: FetchFailed\(shuffle j-sh0, map 0/),
      expect.stringMatching(/^caused by attempt 1: FetchFailed\(shuffle j-sh0, map 0/),
    ]);
    expect(eventsIn(aborted, "jobEnded")).toHaveLength(1);
    expect(launchedIds(h.tick(1000))).toEqual([]);
  });
});

describe("commit authorization", () => {
  it("authorizes one attempt per partition, repeatably, and frees it when that attempt dies", () => {
    const h = cluster(2, 1);
    h.submit("j", singleStagePlan(1, "saveAsTextFile"));
    expect(h.commit("j.0.0.0.0")).toBe(true);
    expect(h.commit("j.0.0.0.0")).toBe(true);
    h.loseExecutor("e1");
    expect(h.liveIds()).toEqual(["j.0.0.0.1"]);
    expect(h.commit("j.0.0.0.1")).toBe(true);
    expect(h.commit("unknown-task")).toBe(false);
  });

  it("denies a second attempt and zombies; a denied attempt is neither counted nor retried", () => {
    const h = cluster(2, 2, { "ballast.scheduler.resubmitDelay": "0" });
    h.submit("j", twoStagePlan(1, 2, "saveAsTextFile"));
    finishStages(h, 0);
    expect(h.commit("j.1.0.0.0")).toBe(true);
    h.fetchFail("j.1.0.1.0", 0); // stage 1 attempt 0 becomes a zombie; j.1.0.0.0 keeps running
    expect(h.commit("j.1.0.0.0")).toBe(false);
    finishStages(h, 0);
    expect(h.liveIds(1)).toEqual(["j.1.0.0.0", "j.1.1.0.1", "j.1.1.1.1"]);
    expect(h.commit("j.1.1.0.1")).toBe(false);
    const denied = h.fail("j.1.1.0.1", { kind: "commitDenied", message: "another attempt committed" });
    expect(launchedIds(denied)).toEqual([]);
    h.succeed("j.1.0.0.0");
    h.succeed("j.1.1.1.1");
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(view.stats.taskAttemptsFailed).toBe(1); // the fetch failure only
  });

  it("retries a denied partition when the committing attempt fails", () => {
    const h = cluster(2, 2, { "ballast.scheduler.resubmitDelay": "0" });
    h.submit("j", twoStagePlan(1, 2, "saveAsTextFile"));
    finishStages(h, 0);
    h.commit("j.1.0.0.0");
    h.fetchFail("j.1.0.1.0", 0);
    finishStages(h, 0);
    h.fail("j.1.1.0.1", { kind: "commitDenied" });
    const released = h.fail("j.1.0.0.0", { kind: "executorError", message: "disk full" });
    expect(launchedIds(released)).toEqual(["j.1.1.0.2"]);
    expect(h.commit("j.1.1.0.2")).toBe(true);
  });
});

describe("cancel and determinism", () => {
  it("cancels a running job: kills its tasks, ends it, ignores late updates", () => {
    const h = cluster(2, 2);
    h.submit("j", threeStagePlan());
    const cancelled = h.send({ type: "cancelJob", jobId: "j", reason: "user asked" });
    expect(cancelled.filter((command) => command.type === "killTask")).toHaveLength(4);
    expect(eventsIn(cancelled, "jobEnded")).toEqual([expect.objectContaining({ status: "cancelled" })]);
    expect(cancelled.filter((command) => command.type === "jobChanged")).toEqual([{ type: "jobChanged", jobId: "j" }]);
    expect(jobView(h.state, "j")).toMatchObject({ status: "cancelled", error: { kind: "cancelled", message: "Job j cancelled: user asked" } });
    expect(h.send({ type: "taskUpdate", executorId: "e1", taskId: "j.0.0.0.0", state: "killed" })).toEqual([]);
    expect(h.send({ type: "cancelJob", jobId: "j", reason: "again" })).toEqual([]);
    h.submit("k", singleStagePlan(1));
    expect(h.liveIds()).toEqual(["k.0.0.0.0"]); // slots freed by the report and the next heartbeat
  });

  it("continues identically from a structuredClone snapshot of the state", () => {
    const h = cluster(2, 2);
    h.submit("j", threeStagePlan());
    finishStages(h, 0);
    h.fetchFail(h.liveIds(1)[0]!, 0, { unreachable: true });
    const snapshot = structuredClone(h.state);
    const inputs = [{ type: "tick" as const }, { type: "executorLost" as const, executorId: "e2", reason: "gone" }];
    for (const [index, input] of inputs.entries()) {
      const now = h.now + 200 * (index + 1);
      const fromSnapshot = step(snapshot, input, now);
      expect(fromSnapshot.some((command) => command.type === "launchTask" || command.type === "emitEvent")).toBe(true);
      expect(fromSnapshot).toEqual(step(h.state, input, now));
    }
  });

  it("produces identical commands for identical inputs", () => {
    const run = (): Command[] => {
      const h = cluster(3, 2);
      h.submit("a", threeStagePlan(5, 4, 3));
      h.submit("b", twoStagePlan(2, 2));
      finishStages(h, 0);
      h.loseExecutor("e2");
      h.fetchFail(h.liveIds(1)[0]!, 1, { unreachable: true });
      h.tick(300);
      h.runAll();
      return h.log;
    };
    const first = run();
    expect(first.length).toBeGreaterThan(50);
    expect(run()).toEqual(first);
  });
});
