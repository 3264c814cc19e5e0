import { describe, expect, it } from "vitest";
import { jobView, nextDueMs } from "./index.js";
import { commandsIn, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { twoStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

const REASON = "speculative copy: node n2 decommissioning";

/**
 * Three nodes with 2 slots; maps 0,3 on e1, 1,4 on e2, 2,5 on e3. At 3000ms
 * the maps of e2 and e3 succeed after 3000ms each (median 3000ms), so maps
 * 6 and 7 start on e2 at 3000ms (expected to end at 6000ms) and e3 is idle.
 */
function stragglersOnN2(): Harness {
  const h = new Harness();
  for (let i = 1; i <= 3; i++) h.addExecutor(`e${i}`, `n${i}`, 2);
  h.submit("j", twoStagePlan(8, 2));
  h.now = 3000;
  for (const taskId of ["j.0.0.1.0", "j.0.0.4.0", "j.0.0.2.0", "j.0.0.5.0"]) h.succeed(taskId, 3000);
  expect(h.live.get("j.0.0.6.0")?.executorId).toBe("e2");
  expect(h.live.get("j.0.0.7.0")?.executorId).toBe("e2");
  return h;
}

const decommission = (h: Harness, nodeId: string, deadlineMs: number): Command[] =>
  h.send({ type: "decommissionNode", nodeId, deadlineMs, reason: "scale-in" });

const placements = (commands: Command[]): string[][] => launchesIn(commands).map((launch) => [launch.task.taskId, launch.executorId]);

/** The executor answers our kill (its slot is free again). */
function reportKilled(h: Harness, commands: Command[]): void {
  for (const kill of commandsIn(commands, "killTask")) h.send({ type: "taskUpdate", executorId: kill.executorId, taskId: kill.taskId, state: "killed" });
}

/** Answers every live task with success, and every kill, until nothing runs. */
function finish(h: Harness): void {
  while (h.live.size > 0) reportKilled(h, h.succeed(h.live.keys().next().value!));
}

describe("speculative copies off decommissioning nodes", () => {
  it("copies tasks the median says would end after the deadline, on an active executor, as the next attempt", () => {
    const h = stragglersOnN2();
    const commands = decommission(h, "n2", 5000);
    expect(placements(commands)).toEqual([["j.0.0.6.1", "e3"], ["j.0.0.7.1", "e3"]]);
    const copy = launchesIn(commands)[0]!.task;
    expect(copy).toMatchObject({ stageId: 0, stageAttempt: 0, partition: 6, attempt: 1 });
    expect(eventsIn(commands, "taskResubmitted")).toEqual([
      { jobId: "j", timeMs: 3000, type: "taskResubmitted", taskId: "j.0.0.6.0", stageId: 0, partition: 6, reason: REASON },
      { jobId: "j", timeMs: 3000, type: "taskResubmitted", taskId: "j.0.0.7.0", stageId: 0, partition: 7, reason: REASON },
    ]);
    const spans = commandsIn(commands, "spanEvent").filter((event) => event.name === "speculativeCopy");
    expect(spans.map((event) => [event.key, event.attributes["ballast.copy_task_id"], event.attributes["ballast.expected_finish_ms"]])).toEqual([
      ["job:j", "j.0.0.6.1", 6000], ["job:j", "j.0.0.7.1", 6000],
    ]);
    // At most one copy per partition: later ticks add none.
    expect(launchesIn(h.tick(500))).toEqual([]);
    expect(jobView(h.state, "j")!.stats).toMatchObject({ tasksLaunched: 10, recomputedTasks: 0, taskAttemptsFailed: 0 });
  });

  it("the first attempt to succeed wins and the other is killed, neither a failure nor a recomputation", () => {
    const h = stragglersOnN2();
    decommission(h, "n2", 5000);
    // The copy of 6 wins: the original on n2 is killed.
    const copyWins = h.succeed("j.0.0.6.1", 1000);
    expect(commandsIn(copyWins, "killTask")).toEqual([expect.objectContaining({ executorId: "e2", taskId: "j.0.0.6.0" })]);
    expect(eventsIn(copyWins, "taskEnded").map((event) => [event.taskId, event.state])).toEqual([["j.0.0.6.1", "succeeded"], ["j.0.0.6.0", "killed"]]);
    expect(h.state.jobs.get("j")!.shuffles[0]!.outputs[6]).toMatchObject({ attempt: 1, nodeId: "n3" });
    reportKilled(h, copyWins);
    // The original of 7 wins: the copy is killed; n2 is drained and migrates.
    const originalWins = h.succeed("j.0.0.7.0", 1500);
    expect(commandsIn(originalWins, "killTask")).toEqual([expect.objectContaining({ executorId: "e3", taskId: "j.0.0.7.1" })]);
    expect(h.state.jobs.get("j")!.shuffles[0]!.outputs[7]).toMatchObject({ attempt: 0, nodeId: "n2" });
    expect(commandsIn(originalWins, "migrateShuffle")).toHaveLength(1);
    reportKilled(h, originalWins);
    finish(h);
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(view.stats).toMatchObject({ tasksLaunched: 12, recomputedTasks: 0, taskAttemptsFailed: 0, lostMapOutputs: 0 });
    expect(eventsIn(h.log, "taskEnded").filter((event) => event.state === "failed")).toEqual([]);
  });

  it("a racer that fails while the other still runs requeues nothing", () => {
    const h = stragglersOnN2();
    decommission(h, "n2", 5000);
    const lost = h.loseExecutor("e3"); // both copies gone; the originals carry on (no free slot for new copies)
    expect(launchesIn(lost)).toEqual([]);
    expect(eventsIn(lost, "taskResubmitted")).toEqual([]);
    expect(eventsIn(lost, "taskEnded").map((event) => [event.taskId, event.state])).toEqual([["j.0.0.6.1", "failed"], ["j.0.0.7.1", "failed"]]);
    finish(h);
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { recomputedTasks: 0, taskAttemptsFailed: 0 } });
  });

  it("makes no copy when the median says the task ends before the deadline, until it outlives the median", () => {
    const h = stragglersOnN2();
    expect(launchesIn(decommission(h, "n2", 7000))).toEqual([]);
    // The shell logs the tick at which time alone makes a copy due: 6000ms, when the tasks outlive the median.
    for (const executorId of ["e1", "e2", "e3"]) h.send({ type: "heartbeat", executorId, runningTaskIds: h.liveIds().filter((id) => h.live.get(id)!.executorId === executorId) });
    expect(nextDueMs(h.state)).toBe(6000);
    expect(launchesIn(h.tick(1000))).toEqual([]);
    // 3500ms in, past the 3000ms median: at least 3500ms more, later than the deadline.
    h.now = 6000;
    expect(placements(h.tick(500))).toEqual([["j.0.0.6.1", "e3"], ["j.0.0.7.1", "e3"]]);
  });

  it("without any success yet, copies once the deadline is closer than the time the task has run", () => {
    const h = new Harness();
    for (let i = 1; i <= 2; i++) h.addExecutor(`e${i}`, `n${i}`, 2);
    h.submit("j", twoStagePlan(4, 2));
    h.addExecutor("e3", "n3", 2);
    expect(launchesIn(decommission(h, "n2", 10_000))).toEqual([]);
    expect(nextDueMs(h.state)).toBe(5000); // halfway to the deadline, before the heartbeat timeout (5001)
    expect(launchesIn(h.tick(4000))).toEqual([]); // 4000ms run, 6000ms left
    expect(placements(h.tick(1000))).toEqual([["j.0.0.1.1", "e3"], ["j.0.0.3.1", "e3"]]);
  });

  it("places no copy on a full, decommissioning or lost executor; a slot that frees up later takes it", () => {
    const h = stragglersOnN2();
    decommission(h, "n3", 60_000); // e3 is idle but leaving
    expect(launchesIn(decommission(h, "n2", 5000))).toEqual([]); // e1 is full
    expect(launchesIn(h.tick(100))).toEqual([]);
    expect(placements(h.succeed("j.0.0.0.0", 3100))).toEqual([["j.0.0.6.1", "e1"]]);
    h.loseExecutor("e1");
    expect(launchesIn(h.tick(100)).filter((launch) => launch.task.partition >= 6)).toEqual([]);
  });

  it("saveAsTextFile: the loser's commit is denied and the denial is not a failure", () => {
    const h = new Harness();
    for (let i = 1; i <= 3; i++) h.addExecutor(`e${i}`, `n${i}`, 1);
    h.submit("s", twoStagePlan(2, 3, "saveAsTextFile"));
    h.now = 1000;
    h.succeed("s.0.0.0.0", 1000);
    h.succeed("s.0.0.1.0", 1000);
    expect(h.live.get("s.1.0.1.0")?.executorId).toBe("e2");
    h.succeed(h.liveIds(1).find((taskId) => h.live.get(taskId)!.executorId === "e3")!, 50);
    h.now = 3000;
    const copied = h.send({ type: "decommissionNode", nodeId: "n2", deadlineMs: 4000, reason: "spot" });
    expect(placements(copied)).toEqual([["s.1.0.1.1", "e3"]]);
    expect(h.commit("s.1.0.1.1")).toBe(true);
    expect(h.commit("s.1.0.1.0")).toBe(false);
    const denied = h.fail("s.1.0.1.0", { kind: "commitDenied" });
    expect(launchesIn(denied)).toEqual([]);
    h.succeed("s.1.0.1.1", 500);
    h.runAll();
    const view = jobView(h.state, "s")!;
    expect(view.status).toBe("succeeded");
    expect(view.stats).toMatchObject({ taskAttemptsFailed: 0, recomputedTasks: 0 });
  });

  it("a loser killed after its racer committed is denied the commit", () => {
    const h = new Harness();
    for (let i = 1; i <= 3; i++) h.addExecutor(`e${i}`, `n${i}`, 1);
    h.submit("s", twoStagePlan(2, 3, "saveAsTextFile"));
    h.now = 1000;
    h.succeed("s.0.0.0.0", 1000);
    h.succeed("s.0.0.1.0", 1000);
    h.succeed(h.liveIds(1).find((taskId) => h.live.get(taskId)!.executorId === "e3")!, 50);
    h.now = 3000;
    h.send({ type: "decommissionNode", nodeId: "n2", deadlineMs: 4000, reason: "spot" });
    expect(h.commit("s.1.0.1.0")).toBe(true); // the original commits first and wins
    expect(commandsIn(h.succeed("s.1.0.1.0", 2500), "killTask").map((kill) => kill.taskId)).toEqual(["s.1.0.1.1"]);
    expect(h.commit("s.1.0.1.1")).toBe(false);
    h.send({ type: "taskUpdate", executorId: "e3", taskId: "s.1.0.1.1", state: "failed", failure: { kind: "commitDenied", message: "commit denied", stack: "" } });
    h.runAll();
    expect(jobView(h.state, "s")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0 } });
  });
});
