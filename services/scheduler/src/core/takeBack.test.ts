import { describe, expect, it } from "vitest";
import { jobView } from "./index.js";
import { commandsIn, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { singleStagePlan } from "./testing/plans.js";

const TAKE_BACK = { "ballast.scheduler.takeBack.enabled": "true" };
const placements = (commands: ReturnType<Harness["send"]>) => launchesIn(commands).map((launch) => [launch.task.partition, launch.executorId]);
const kills = (commands: ReturnType<Harness["send"]>) => commandsIn(commands, "killTask").map((kill) => [kill.taskId, kill.executorId]);

/** e1 (2 worker slots + 2 queued) holds all 4 tasks of job j when e2 joins. */
function queuedOnFirstExecutor(queuedSlots: number): { h: Harness; joined: ReturnType<Harness["send"]> } {
  const h = new Harness(TAKE_BACK);
  h.addExecutor("e1", "n1", 4, queuedSlots);
  expect(placements(h.submit("j", singleStagePlan(4)))).toEqual([[0, "e1"], [1, "e1"], [2, "e1"], [3, "e1"]]);
  return { h, joined: h.addExecutor("e2", "n2", 4, queuedSlots) };
}

describe("take-back of queued tasks", () => {
  it("moves a late executor the tasks still queued elsewhere: the newest, killed there, not counted as failures", () => {
    const { h, joined } = queuedOnFirstExecutor(2);
    expect(kills(joined)).toEqual([["j.0.0.3.0", "e1"], ["j.0.0.2.0", "e1"]]);
    expect(placements(joined)).toEqual([[3, "e2"], [2, "e2"]]);
    expect(eventsIn(joined, "taskResubmitted").map((event) => event.partition)).toEqual([3, 2]);
    // e1 reports the kills (it dropped them from its queue); its slots come back, nothing is retried.
    for (const taskId of ["j.0.0.3.0", "j.0.0.2.0"]) {
      const answer = h.send({ type: "taskUpdate", executorId: "e1", taskId, state: "killed", failure: { kind: "killed", message: "killed", stack: "" } });
      expect(launchesIn(answer)).toEqual([]);
    }
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0, tasksLaunched: 4 } });
  });

  it("takes back nothing from an executor without a queue: its tasks may all be running", () => {
    const { joined } = queuedOnFirstExecutor(0);
    expect(kills(joined)).toEqual([]);
    expect(launchesIn(joined)).toEqual([]);
  });

  it("a taken-back task that had started anyway cannot commit and its success is ignored", () => {
    const { h } = queuedOnFirstExecutor(2);
    expect(h.commit("j.0.0.3.0")).toBe(false);
    h.send({ type: "taskUpdate", executorId: "e1", taskId: "j.0.0.3.0", state: "succeeded", records: Uint8Array.of(3), count: 1 });
    expect(h.commit("j.0.0.3.1")).toBe(true);
    h.runAll();
    h.send({ type: "taskUpdate", executorId: "e1", taskId: "j.0.0.2.0", state: "killed", failure: { kind: "killed", message: "killed", stack: "" } });
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0, tasksLaunched: 4 } });
  });

  it("stops when the gap is one task: moving it would only swap which executor is ahead", () => {
    const h = new Harness(TAKE_BACK);
    h.addExecutor("e1", "n1", 4, 2);
    h.addExecutor("e2", "n2", 4, 2);
    h.submit("j", singleStagePlan(5));
    const e2Task = [...h.live].find(([, entry]) => entry.executorId === "e2")![0];
    // e2 finishes one: 3 live on e1, 1 on e2 with room; one move evens them at 2 and 2.
    const answered = h.succeed(e2Task);
    expect(kills(answered)).toHaveLength(1);
    expect(placements(answered)).toEqual([[expect.any(Number), "e2"]]);
  });
});

describe("take-back from executors that may not start their queue", () => {
  it("a decommissioning node's queued tasks are requeued at once and run elsewhere; its started ones stay", () => {
    const h = new Harness(TAKE_BACK);
    h.addExecutor("e1", "n1", 4, 2);
    h.submit("j", singleStagePlan(6));
    // e2 joins: it gets the pending 4 and 5, and 3 taken back from e1's queue.
    expect(kills(h.addExecutor("e2", "n2", 4, 2))).toEqual([["j.0.0.3.0", "e1"]]);
    // e1 still holds 3 until it reports it, so of 0, 1, 2 only 2 is surely queued.
    const requested = h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "scale-in" });
    expect(kills(requested)).toEqual([["j.0.0.2.0", "e1"]]);
    expect(eventsIn(requested, "taskResubmitted").map((event) => event.partition)).toEqual([2]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0 } });
    expect(launchesIn(h.log).filter((launch) => launch.executorId === "e1").map((launch) => launch.task.partition)).toEqual([0, 1, 2, 3]);
  });
});

describe("take-back off (the default)", () => {
  it("leaves a late executor idle while another's queue holds the work", () => {
    const h = new Harness();
    h.addExecutor("e1", "n1", 4, 2);
    h.submit("j", singleStagePlan(4));
    const joined = h.addExecutor("e2", "n2", 4, 2);
    expect(kills(joined)).toEqual([]);
    expect(launchesIn(joined)).toEqual([]);
  });
});
