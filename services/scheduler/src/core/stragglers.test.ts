import { describe, expect, it } from "vitest";
import { jobView, nextDueMs } from "./index.js";
import { commandsIn, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { singleStagePlan, twoStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

const SPECULATION = { "ballast.speculation.enabled": "true" };

const placements = (commands: Command[]): string[][] => launchesIn(commands).map((launch) => [launch.task.taskId, launch.executorId]);

/**
 * Three nodes with 2 slots; maps 0..3 start at 0ms, map 3 beside map 0 on
 * e1. At 1000ms maps 0..2 succeed after 1000ms each: 3 of 4 is the 0.75
 * quantile, the median is 1000ms, so map 3 is a straggler past 1500ms.
 */
function stragglingMap(conf: Record<string, string> = SPECULATION): Harness {
  const h = new Harness();
  for (let i = 1; i <= 3; i++) h.addExecutor(`e${i}`, `n${i}`, 2);
  h.submit("j", twoStagePlan(4, 2), conf);
  expect(h.live.get("j.0.0.3.0")?.executorId).toBe("e1");
  h.now = 1000;
  for (const taskId of ["j.0.0.0.0", "j.0.0.1.0", "j.0.0.2.0"]) h.succeed(taskId, 1000);
  return h;
}

/** The executor answers our kills (their slots are free again). */
function reportKilled(h: Harness, commands: Command[]): void {
  for (const kill of commandsIn(commands, "killTask")) h.send({ type: "taskUpdate", executorId: kill.executorId, taskId: kill.taskId, state: "killed" });
}

describe("speculative copies of slow tasks (ballast.speculation.*)", () => {
  it("copies a task once the quantile has finished and it runs past multiplier x median, on another node, at the tick its timer asks for", () => {
    const h = stragglingMap();
    expect(nextDueMs(h.state)).toBe(1501); // exceeds 1.5 x 1000ms from 1501ms on
    expect(launchesIn(h.tick(500))).toEqual([]);
    const copied = h.tick(1);
    expect(placements(copied)).toEqual([["j.0.0.3.1", "e2"]]);
    const reason = "speculative copy: slow task, ran 1501ms against a median of 1000ms over 3 finished";
    expect(eventsIn(copied, "taskResubmitted")).toEqual([{ jobId: "j", timeMs: 1501, type: "taskResubmitted", taskId: "j.0.0.3.0", stageId: 0, partition: 3, reason }]);
    const spans = commandsIn(copied, "spanEvent").filter((event) => event.name === "speculativeCopy");
    expect(spans.map((event) => event.attributes)).toEqual([expect.objectContaining({
      "ballast.copy_task_id": "j.0.0.3.1", "ballast.node_id": "n1", "ballast.executor_id": "e2", "ballast.threshold_ms": 1500, "ballast.reason": reason,
    })]);
    // One copy per partition: later ticks add none.
    expect(launchesIn(h.tick(1000))).toEqual([]);
  });

  it("makes no copy before the quantile of the attempt's tasks has finished", () => {
    const h = new Harness();
    for (let i = 1; i <= 3; i++) h.addExecutor(`e${i}`, `n${i}`, 2);
    h.submit("j", twoStagePlan(4, 2), SPECULATION);
    h.now = 1000;
    h.succeed("j.0.0.0.0", 1000);
    h.succeed("j.0.0.1.0", 1000); // 2 of 4: below 0.75
    expect(launchesIn(h.tick(3000))).toEqual([]);
  });

  it("the copy wins and the original is killed; the copy is no recomputation and the loser no failure", () => {
    const h = stragglingMap();
    h.tick(501);
    const copyWins = h.succeed("j.0.0.3.1", 100);
    expect(commandsIn(copyWins, "killTask")).toEqual([expect.objectContaining({ executorId: "e1", taskId: "j.0.0.3.0" })]);
    expect(h.state.jobs.get("j")!.shuffles[0]!.outputs[3]).toMatchObject({ attempt: 1, nodeId: "n2" });
    reportKilled(h, copyWins);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(view.stats).toMatchObject({ tasksLaunched: 7, recomputedTasks: 0, taskAttemptsFailed: 0 });
  });

  it("is disabled by default", () => {
    const h = stragglingMap({});
    expect(nextDueMs(h.state)).toBeGreaterThan(1501);
    expect(launchesIn(h.tick(3000))).toEqual([]);
  });

  it("respects minTaskRuntime and the multiplier", () => {
    const h = stragglingMap({ ...SPECULATION, "ballast.speculation.minTaskRuntime": "2s", "ballast.speculation.multiplier": "1.2" });
    expect(nextDueMs(h.state)).toBe(2001);
    const other = stragglingMap({ ...SPECULATION, "ballast.speculation.multiplier": "1.2" });
    expect(nextDueMs(other.state)).toBe(1201);
  });

  it("never places the copy where the partition is excluded, even when that executor is the least loaded", () => {
    const h = new Harness();
    for (let i = 1; i <= 3; i++) h.addExecutor(`e${i}`, `n${i}`, 1);
    h.submit("s", singleStagePlan(3), SPECULATION);
    h.fail("s.0.0.1.0", { kind: "userError" }); // partition 1 now avoids e2 (maxTaskAttemptsPerExecutor 1)
    h.now = 1000;
    expect(placements(h.succeed("s.0.0.0.0", 1000))).toEqual([["s.0.0.1.1", "e1"]]);
    h.succeed("s.0.0.2.0", 1000); // 2 of 3 finished, median 1000ms; e2 and e3 idle
    h.now = 2501;
    expect(placements(h.tick(0))).toEqual([["s.0.0.1.2", "e3"]]);
  });

  it("prefers another node; another executor of the same node only when no other node has room", () => {
    const slowOnE1b = (): Harness => {
      const h = new Harness();
      h.addExecutor("e1", "n1", 1);
      h.addExecutor("e1b", "n1", 1);
      h.addExecutor("e2", "n2", 1);
      h.submit("s", singleStagePlan(3), SPECULATION);
      expect(h.live.get("s.0.0.1.0")?.executorId).toBe("e1b");
      h.now = 1000;
      h.succeed("s.0.0.0.0", 1000);
      h.succeed("s.0.0.2.0", 1000); // e1 and e2 idle
      return h;
    };
    expect(placements(slowOnE1b().tick(501))).toEqual([["s.0.0.1.1", "e2"]]);
    const withoutN2 = slowOnE1b();
    withoutN2.loseExecutor("e2");
    expect(placements(withoutN2.tick(501))).toEqual([["s.0.0.1.1", "e1"]]);
  });

  it("replays to the same state and commands", () => {
    const h = stragglingMap();
    h.tick(501);
    h.succeed("j.0.0.3.0", 100); // the original wins this time: the copy is killed
    h.runAll();
    const replayed = new Harness();
    for (const { input, now } of h.inputs) {
      replayed.now = now;
      replayed.send(input);
    }
    expect(replayed.log).toEqual(h.log);
    expect(replayed.state).toEqual(h.state);
    expect(eventsIn(h.log, "taskEnded").filter((event) => event.taskId === "j.0.0.3.1").map((event) => event.state)).toEqual(["killed"]);
  });
});
