import { describe, expect, it } from "vitest";
import { jobView, nodeViews } from "./index.js";
import { cluster, commandsIn, eventsIn, finishStages, Harness, launchesIn } from "./testing/harness.js";
import { singleStagePlan, twoStagePlan } from "./testing/plans.js";

const phases = (h: Harness, nodeId: string): string[] =>
  eventsIn(h.log, "decommissionChanged").filter((event) => event.nodeId === nodeId).map((event) => event.phase);

/** Map outputs registered on a node, as [shuffleId, mapIndex, attempt]. */
function outputsOn(h: Harness, jobId: string, nodeId: string): Array<[string, number, number]> {
  const outputs: Array<[string, number, number]> = [];
  for (const shuffle of h.state.jobs.get(jobId)!.shuffles) {
    shuffle?.outputs.forEach((status, mapIndex) => status?.nodeId === nodeId && outputs.push([shuffle.shuffleId, mapIndex, status.attempt]));
  }
  return outputs;
}

describe("decommission", () => {
  it("drains, migrates and repoints: zero recomputation even when the node then dies", () => {
    const h = cluster(3, 2);
    h.submit("j", twoStagePlan(9, 2));
    const requested = h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "scale-in" });
    expect(eventsIn(requested, "decommissionChanged")).toEqual([{ jobId: "", timeMs: 0, type: "decommissionChanged", nodeId: "n1", phase: "requested", deadlineMs: 60_000, reason: "scale-in" }]);
    expect(nodeViews(h.state)[0]).toMatchObject({ nodeId: "n1", state: "decommissioning", runningTasks: 2, decommissionDeadlineMs: 60_000 });
    // Its running maps finish; nothing new goes there.
    const onN1 = h.liveIds(0).filter((id) => h.live.get(id)!.executorId === "e1");
    h.succeed(onN1[0]!);
    const drained = h.succeed(onN1[1]!);
    expect(phases(h, "n1")).toEqual(["requested", "drained"]);
    expect(commandsIn(drained, "migrateShuffle")).toEqual([{
      type: "migrateShuffle", nodeId: "n1", shuffleAddress: "n1:7337",
      peers: [{ nodeId: "n2", shuffleAddress: "n2:7337" }, { nodeId: "n3", shuffleAddress: "n3:7337" }],
    }]);
    for (const [shuffleId, mapIndex, attempt] of outputsOn(h, "j", "n1")) {
      h.send({ type: "mapOutputMigrated", fromNodeId: "n1", shuffleId, mapIndex, attempt, newAddress: "n2:7337", newNodeId: "n2", bytes: 100 });
    }
    expect(nodeViews(h.state)[0]).toMatchObject({ migratedOutputs: 2, migratedBytes: 200 });
    const finished = h.send({ type: "migrationFinished", nodeId: "n1", migrated: 2, failed: 0, bytes: 200, durationMs: 40, error: "" });
    expect(eventsIn(finished, "shuffleMigrated")).toEqual([expect.objectContaining({ nodeId: "n1", outputs: 2, bytes: 200, durationMs: 40, targetAddresses: "n2:7337,n3:7337", outputsNotMigrated: 0 })]);
    expect(eventsIn(finished, "mapOutputsLost")).toEqual([]);
    expect(phases(h, "n1")).toEqual(["requested", "drained", "migrated", "decommissioned"]);
    finishStages(h, 0);
    // The node dies: nothing of it is registered any more.
    h.loseExecutor("e1");
    expect(eventsIn(h.loseNode("n1"), "mapOutputsLost")).toEqual([]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view).toMatchObject({ status: "succeeded", stats: { recomputedTasks: 0, lostMapOutputs: 0 } });
    expect(launchesIn(h.log).filter((launch) => launch.executorId === "e1").map((launch) => launch.task.taskId)).toEqual(["j.0.0.0.0", "j.0.0.3.0"]);
    const reduce = launchesIn(h.log).find((launch) => launch.task.stageId === 1)!;
    expect(reduce.task.shuffleReads[0]!.locations.filter((location) => location.nodeId === "n1")).toEqual([]);
  });

  it("unregisters what was not migrated by the deadline, for two nodes in ONE resubmission", () => {
    const k = cluster(4, 2);
    k.submit("k", twoStagePlan(8, 2));
    finishStages(k, 0);
    k.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 1000, reason: "spot" });
    k.send({ type: "decommissionNode", nodeId: "n2", deadlineMs: 1000, reason: "spot" });
    expect(commandsIn(k.log, "migrateShuffle")).toEqual([]); // their reduce tasks still run: not drained
    const expired = k.tick(1000);
    expect(eventsIn(expired, "decommissionChanged").map((event) => [event.nodeId, event.phase])).toEqual([
      ["n1", "expired"], ["n1", "decommissioned"], ["n2", "expired"], ["n2", "decommissioned"],
    ]);
    expect(eventsIn(expired, "mapOutputsLost").map((event) => event.mapIndexes)).toEqual([[0, 4], [1, 5]]);
    const resubmit = k.tick(200);
    expect(eventsIn(resubmit, "stageResubmitted").map((event) => event.partitions)).toEqual([[0, 1, 4, 5]]);
    expect(launchesIn(resubmit).every((launch) => launch.executorId === "e3" || launch.executorId === "e4")).toBe(true);
    k.runAll();
    expect(jobView(k.state, "k")).toMatchObject({ status: "succeeded", stats: { recomputedTasks: 4, lostMapOutputs: 4 } });
    expect(eventsIn(k.log, "stageResubmitted")).toHaveLength(1);
  });

  it("recommission makes the node take tasks again", () => {
    const h = cluster(2, 1);
    h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "test" });
    h.submit("a", singleStagePlan(2));
    expect(h.liveIds()).toEqual(["a.0.0.0.0"]);
    expect(launchesIn(h.log)[0]!.executorId).toBe("e2");
    const back = h.send({ type: "recommissionNode", nodeId: "n1" });
    expect(eventsIn(back, "decommissionChanged").map((event) => event.phase)).toEqual(["recommissioned"]);
    expect(launchesIn(back).map((launch) => [launch.executorId, launch.task.taskId])).toEqual([["e1", "a.0.0.1.0"]]);
    expect(nodeViews(h.state)[0]!.state).toBe("active");
  });

  it("a node with nothing to hand over is decommissioned as soon as it drains; a fresh executor id revives it", () => {
    const h = cluster(2, 1);
    h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "idle" });
    expect(phases(h, "n1")).toEqual(["requested", "drained", "decommissioned"]);
    expect(commandsIn(h.log, "migrateShuffle")).toEqual([]);
    h.send({ type: "executorRegistered", executor: { executorId: "e1", nodeId: "n1", host: "n1", slots: 1, shuffleAddress: "n1:7337" } });
    expect(nodeViews(h.state)[0]!.state).toBe("decommissioned"); // the same executor reconnecting
    h.addExecutor("e9", "n1", 1);
    expect(nodeViews(h.state)[0]).toMatchObject({ state: "active", executorIds: ["e1", "e9"] });
  });

  it("fetch failures from a decommissioning node do not count toward maxConsecutiveAttempts", () => {
    const run = (decommission: boolean): string => {
      const h = cluster(3, 2, { "ballast.scheduler.resubmitDelay": "0" });
      h.submit("j", twoStagePlan(3, 2), { "ballast.stage.maxConsecutiveAttempts": "1" });
      finishStages(h, 0);
      if (decommission) h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "spot" });
      h.fetchFail(h.liveIds(1)[0]!, 0, { unreachable: true });
      h.runAll();
      return jobView(h.state, "j")!.status;
    };
    expect(run(false)).toBe("failed");
    expect(run(true)).toBe("succeeded");
  });
});
