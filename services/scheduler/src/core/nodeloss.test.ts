import { describe, expect, it } from "vitest";
import { jobView, nodeViews } from "./index.js";
import { PROBE_VERDICT_WAIT_MS } from "./nodes.js";
import { cluster, commandsIn, eventsIn, finishStages, launchedIds, launchesIn } from "./testing/harness.js";
import { threeStagePlan, twoStagePlan } from "./testing/plans.js";

describe("shuffle service loss", () => {
  it("probes the node's shuffle service when an executor is lost", () => {
    const h = cluster(2, 2);
    expect(commandsIn(h.loseExecutor("e1"), "probeShuffleService")).toEqual([{ type: "probeShuffleService", nodeId: "n1", shuffleAddress: "n1:7337" }]);
  });

  it("recomputes every lost output proactively, before the dependent stage reads it, in ONE resubmission", () => {
    const h = cluster(3, 2);
    h.submit("j", threeStagePlan(4, 3, 2));
    finishStages(h, 0, 1);
    expect(h.liveIds(2)).toEqual(["j.2.0.0.0", "j.2.0.1.0"]);
    const lost = h.loseNode("n1", "connection refused");
    expect(nodeViews(h.state).find((node) => node.nodeId === "n1")).toMatchObject({ state: "lost", executorIds: [] });
    expect(commandsIn(lost, "closeSession").map((command) => command.executorId)).toEqual(["e1"]);
    expect(eventsIn(lost, "mapOutputsLost").map((event) => [event.shuffleId, event.mapIndexes, event.reason])).toEqual([
      ["j-sh0", [0, 3], "shuffle service n1:7337 of node n1 lost: connection refused"],
      ["j-sh1", [0], "shuffle service n1:7337 of node n1 lost: connection refused"],
    ]);
    // The result stage keeps its attempt but launches nothing until its input is back.
    expect(eventsIn(lost, "stageEnded")).toEqual([]);
    expect(launchedIds(lost)).toEqual([]);
    // Its running task then fails to fetch an output already known lost: nothing extra happens.
    const fetch = h.fetchFail("j.2.0.1.0", 0, { unreachable: true });
    expect(eventsIn(fetch, "stageEnded")).toEqual([]);
    expect(eventsIn(fetch, "mapOutputsLost")).toEqual([]);
    expect(eventsIn(fetch, "taskResubmitted").map((event) => event.partition)).toEqual([1]);
    const window = h.tick(200);
    expect(eventsIn(window, "stageResubmitted").map((event) => [event.stageId, event.partitions])).toEqual([[0, [0, 3]]]);
    finishStages(h, 0, 1);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(eventsIn(h.log, "stageResubmitted").map((event) => [event.stageId, event.partitions])).toEqual([[0, [0, 3]], [1, [0]]]);
    expect(view.stats).toMatchObject({ lostMapOutputs: 3, recomputedTasks: 3, stageAttempts: 5 });
    expect(view.stages[2]!.failedAttempts).toBe(0);
  });

  it("batches two nodes lost within resubmitDelay into one resubmission", () => {
    const h = cluster(4, 2);
    h.submit("j", twoStagePlan(8, 2));
    finishStages(h, 0);
    h.loseNode("n1");
    h.send({ type: "tick" }, 150);
    h.loseNode("n2");
    expect(eventsIn(h.tick(49), "stageResubmitted")).toEqual([]);
    const fired = h.tick(1);
    expect(eventsIn(fired, "stageResubmitted").map((event) => event.partitions)).toEqual([[0, 1, 4, 5]]);
    expect(launchedIds(fired).sort()).toEqual(["j.0.1.0.1", "j.0.1.1.1", "j.0.1.4.1", "j.0.1.5.1"]);
    h.runAll();
    expect(jobView(h.state, "j")!.stats).toMatchObject({ lostMapOutputs: 4, recomputedTasks: 4 });
    expect(eventsIn(h.log, "stageResubmitted")).toHaveLength(1);
  });

  it("holds the resubmission while a killed node's probe is out: nodes killed together share one", () => {
    const h = cluster(4, 2);
    h.submit("j", twoStagePlan(8, 2));
    finishStages(h, 0);
    h.loseExecutor("e1");
    h.loseExecutor("e2"); // both nodes were killed: both shuffle services are probed
    const reducer = h.liveIds(1)[0]!;
    h.fetchFail(reducer, 0, { unreachable: true }); // a reducer finds n1's service gone first
    expect(eventsIn(h.tick(500), "stageResubmitted")).toEqual([]); // n2's verdict is still out
    h.loseNode("n2");
    const fired = h.tick(200);
    expect(eventsIn(fired, "stageResubmitted").map((event) => [event.stageId, event.partitions])).toEqual([[0, [0, 1, 4, 5]]]);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { lostMapOutputs: 4, recomputedTasks: 4 } });
    expect(eventsIn(h.log, "stageResubmitted").filter((event) => event.stageId === 0)).toHaveLength(1);
  });

  it("a probe answering 'serving' releases the held resubmission; one never answered holds it PROBE_VERDICT_WAIT_MS at most", () => {
    for (const answered of [true, false]) {
      const h = cluster(3, 2, { "ballast.executor.heartbeatTimeout": "60s" }); // e1 and e2 stay alive unheard
      h.submit("j", twoStagePlan(6, 2));
      finishStages(h, 0);
      h.loseExecutor("e3"); // its node may be alive
      h.fetchFail(h.liveIds(1)[0]!, 0); // a corrupt block on n1
      expect(eventsIn(h.tick(200), "stageResubmitted")).toEqual([]);
      if (answered) h.send({ type: "shuffleServiceAnswered", nodeId: "n3", shuffleAddress: "n3:7337" });
      const waitedMs = answered ? 200 : PROBE_VERDICT_WAIT_MS - 200;
      expect(eventsIn(h.tick(waitedMs - 1), "stageResubmitted")).toEqual([]);
      expect(eventsIn(h.tick(1), "stageResubmitted").map((event) => [event.stageId, event.partitions]), `answered: ${answered}`).toEqual([[0, [0]]]);
    }
  });

  it("does not count fetch failures of outputs already known lost toward maxConsecutiveAttempts", () => {
    const h = cluster(3, 2, {});
    h.submit("j", twoStagePlan(3, 3), { "ballast.stage.maxConsecutiveAttempts": "1" });
    finishStages(h, 0);
    const running = h.liveIds(1);
    h.loseNode("n2");
    for (const taskId of running.filter((id) => h.live.has(id))) h.fetchFail(taskId, 1, { unreachable: true });
    h.tick(200);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { lostMapOutputs: 1, recomputedTasks: 1 } });
  });

  it("closes the session of an executor silent past its heartbeat timeout and ignores its late results", () => {
    const h = cluster(2, 1, { "ballast.executor.heartbeatTimeout": "1s" });
    h.submit("j", twoStagePlan(2, 1));
    const stopped = h.live.get("j.0.0.0.0")!; // on e1, which stops (SIGSTOP)
    h.send({ type: "heartbeat", executorId: "e2", runningTaskIds: ["j.0.0.1.0"] }, 900);
    const timedOut = h.tick(101);
    expect(commandsIn(timedOut, "closeSession")).toEqual([{ type: "closeSession", executorId: "e1", reason: "no heartbeat for 1001ms (timeout 1000ms)" }]);
    expect(commandsIn(timedOut, "probeShuffleService")).toHaveLength(1);
    h.live.delete("j.0.0.0.0");
    h.succeed("j.0.0.1.0");
    expect(h.liveIds(0)).toEqual(["j.0.0.0.1"]); // resubmitted on e2
    h.succeed("j.0.0.0.1");
    // SIGCONT: e1 reports its old success and re-registers listing it.
    const late = h.send({
      type: "taskUpdate", executorId: "e1", taskId: stopped.task.taskId, state: "succeeded",
      mapStatus: { shuffleId: "j-sh0", mapIndex: 0, attempt: 0, shuffleAddress: "n1:7337", nodeId: "n1", partitionSizes: [10] },
    });
    expect(late).toEqual([]);
    const back = h.send({ type: "executorRegistered", executor: { ...h.executors.get("e1")!, runningTaskIds: ["j.0.0.0.0"] } });
    expect(commandsIn(back, "killTask")).toEqual([expect.objectContaining({ executorId: "e1", taskId: "j.0.0.0.0" })]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    const read = launchesIn(h.log).find((launch) => launch.task.stageId === 1)!.task.shuffleReads[0]!;
    expect(read.locations.map((location) => [location.mapIndex, location.attempt, location.nodeId])).toEqual([[0, 1, "n2"], [1, 0, "n2"]]);
  });

  it("keeps the first registered output when a zombie attempt's duplicate success arrives", () => {
    const h = cluster(3, 2, { "ballast.scheduler.resubmitDelay": "0" });
    h.submit("j", threeStagePlan(2, 3, 1));
    finishStages(h, 0);
    expect(h.liveIds(1)).toEqual(["j.1.0.0.0", "j.1.0.1.0", "j.1.0.2.0"]);
    h.fetchFail("j.1.0.2.0", 0); // stage 1 attempt 0 becomes a zombie; j.1.0.1.0 keeps running
    h.succeed(h.liveIds(0)[0]!); // map 0 recomputed: stage 1 attempt 1 reruns partitions 0, 1 and 2
    expect(h.liveIds(1)).toEqual(["j.1.0.0.0", "j.1.0.1.0", "j.1.1.0.1", "j.1.1.1.1", "j.1.1.2.1"]);
    h.succeed("j.1.1.1.1");
    h.succeed("j.1.0.1.0"); // the zombie's late success for the same partition
    finishStages(h, 1);
    const read = launchesIn(h.log).find((launch) => launch.task.stageId === 2)!.task.shuffleReads[0]!;
    expect(read.locations.find((location) => location.mapIndex === 1)!.attempt).toBe(1);
  });
});
