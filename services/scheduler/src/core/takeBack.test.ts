import { describe, expect, it } from "vitest";
import { createState, jobView, step } from "./index.js";
import { commandsIn, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { singleStagePlan, twoStagePlan } from "./testing/plans.js";

const TAKE_BACK = { "ballast.scheduler.takeBack.enabled": "true" };
const KILLED = { kind: "killed", message: "killed", stack: "" } as const;
const placements = (commands: ReturnType<Harness["send"]>) => launchesIn(commands).map((launch) => [launch.task.partition, launch.executorId]);
const revokes = (commands: ReturnType<Harness["send"]>) => commandsIn(commands, "revokeTask").map((revoke) => [revoke.taskId, revoke.executorId]);

/** e1 (2 worker slots + 2 queued) holds all 4 tasks of job j when e2 joins. */
function queuedOnFirstExecutor(queuedSlots: number, conf: Record<string, string> = TAKE_BACK): { h: Harness; joined: ReturnType<Harness["send"]> } {
  const h = new Harness(conf);
  h.addExecutor("e1", "n1", 4, queuedSlots);
  expect(placements(h.submit("j", singleStagePlan(4)))).toEqual([[0, "e1"], [1, "e1"], [2, "e1"], [3, "e1"]]);
  return { h, joined: h.addExecutor("e2", "n2", 4, queuedSlots) };
}

describe("take-back of queued tasks", () => {
  it("asks a late executor's share back from another's queue, newest first, and moves each task once revoked", () => {
    const { h, joined } = queuedOnFirstExecutor(2);
    // Both revokes in one step: the first already counts as on its way to e2.
    expect(revokes(joined)).toEqual([["j.0.0.3.0", "e1"], ["j.0.0.2.0", "e1"]]);
    expect(commandsIn(joined, "killTask")).toEqual([]);
    expect(launchesIn(joined)).toEqual([]); // until answered, the tasks hold their slots on e1
    expect(placements(h.answerRevoke("j.0.0.3.0", true))).toEqual([[3, "e2"]]);
    const second = h.answerRevoke("j.0.0.2.0", true);
    expect(placements(second)).toEqual([[2, "e2"]]);
    expect(eventsIn(second, "taskResubmitted").map((event) => event.partition)).toEqual([2]);
    expect(revokes(second)).toEqual([]); // evened out at 2 and 2
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0, tasksLaunched: 4 } });
  });

  it("a task its executor answers 'already started' runs on there and is never asked back again", () => {
    const { h } = queuedOnFirstExecutor(2);
    const answered = h.answerRevoke("j.0.0.3.0", false);
    // It started, so every older task did too: nothing else on e1 is thought queued.
    expect(revokes(answered)).toEqual([]);
    expect(launchesIn(answered)).toEqual([]);
    expect(h.state.tasks.get("j.0.0.3.0")).toMatchObject({ started: true, revokingFor: undefined });
    expect(placements(h.answerRevoke("j.0.0.2.0", true))).toEqual([[2, "e2"]]);
    // Its commit and its success count as any task's: it ran once.
    expect(h.commit("j.0.0.3.0")).toBe(true);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0, tasksLaunched: 4 } });
    expect(launchesIn(h.log).filter((launch) => launch.task.partition === 3)).toHaveLength(1);
  });

  it("a task that ended before its answer came is not resubmitted by the answer", () => {
    const { h } = queuedOnFirstExecutor(2);
    h.succeed("j.0.0.3.0");
    const late = h.send({ type: "revokeAnswered", executorId: "e1", revokedTaskIds: [], startedTaskIds: ["j.0.0.3.0"] });
    expect(eventsIn(late, "taskResubmitted")).toEqual([]);
    expect(launchesIn(late).filter((launch) => launch.task.partition === 3)).toEqual([]);
  });

  it("takes back nothing from an executor without a queue: its tasks may all be running", () => {
    const { joined } = queuedOnFirstExecutor(0);
    expect(revokes(joined)).toEqual([]);
    expect(launchesIn(joined)).toEqual([]);
  });

  it("stops when the gap is one task: moving it would only swap which executor is ahead", () => {
    const h = new Harness(TAKE_BACK);
    h.addExecutor("e1", "n1", 4, 2);
    h.addExecutor("e2", "n2", 4, 2);
    h.submit("j", singleStagePlan(5));
    const e2Task = [...h.live].find(([, entry]) => entry.executorId === "e2")![0];
    // e2 finishes one: 3 live on e1, 1 on e2 with room; one move evens them at 2 and 2.
    const answered = h.succeed(e2Task);
    expect(revokes(answered)).toHaveLength(1);
    expect(placements(h.answerRevoke(revokes(answered)[0]![0]!, true))).toEqual([[expect.any(Number), "e2"]]);
  });

  it("a recomputation taken back and relaunched counts once as recomputed", () => {
    const h = new Harness(TAKE_BACK);
    h.addExecutor("e1", "n1", 4, 2);
    h.submit("j", twoStagePlan(4, 1));
    for (const taskId of h.liveIds(0)) h.succeed(taskId);
    h.addExecutor("e2", "n2", 4, 2);
    h.loseNode("n1");
    h.tick(1_000); // past the resubmit delay: its 4 map outputs are recomputed, all queued on e2
    expect(h.liveIds(0)).toHaveLength(4);
    const asked = revokes(h.addExecutor("e3", "n3", 4, 2));
    expect(asked.length).toBeGreaterThan(0);
    for (const [taskId] of asked) h.answerRevoke(taskId!, true);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { recomputedTasks: 4 } });
  });

  it("moves work a lost executor left queued elsewhere to one that joins", () => {
    const h = new Harness(TAKE_BACK);
    h.addExecutor("e1", "n1", 3, 2);
    h.addExecutor("e2", "n2", 3, 2);
    expect(placements(h.submit("j", singleStagePlan(4)))).toEqual([[0, "e1"], [1, "e2"], [2, "e1"], [3, "e2"]]);
    h.succeed("j.0.0.1.0");
    h.succeed("j.0.0.3.0");
    expect(placements(h.loseExecutor("e1"))).toEqual([[0, "e2"], [2, "e2"]]);
    // Partition 2's second run waits in e2's queue: a run resubmitted after a loss is plain, so it moves.
    const joined = h.addExecutor("e3", "n3", 3, 2);
    expect(revokes(joined)).toEqual([["j.0.0.2.1", "e2"]]);
    expect(placements(h.answerRevoke("j.0.0.2.1", true))).toEqual([[2, "e3"]]);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, tasksLaunched: 6 } });
  });

  it("a revoking task lost with its executor is resubmitted like the others there", () => {
    const { h } = queuedOnFirstExecutor(2);
    const lost = h.loseExecutor("e1");
    expect(eventsIn(lost, "taskResubmitted").map((event) => event.partition).sort()).toEqual([0, 1, 2, 3]);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0 } });
  });

  it("a re-registration drops the marks (the answer may never come); an answer after it still counts", () => {
    const { h } = queuedOnFirstExecutor(2);
    h.addExecutor("e1", "n1", 4, 2); // e1's stream broke and it registered again, holding its tasks
    expect(h.state.tasks.get("j.0.0.3.0")?.revokingFor).toBeUndefined();
    expect(placements(h.answerRevoke("j.0.0.2.0", true))).toEqual([[2, "e2"]]);
  });

  it("a revoking task killed with its job gives its slot back on the 'revoked' answer", () => {
    const { h } = queuedOnFirstExecutor(2);
    h.send({ type: "cancelJob", jobId: "j", reason: "user" });
    h.answerRevoke("j.0.0.3.0", true);
    expect(h.state.executors.get("e1")!.running.has("j.0.0.3.0")).toBe(false);
    expect(jobView(h.state, "j")?.status).toBe("cancelled");
  });

  it("replaying the inputs, answers included, rebuilds the same state", () => {
    const { h } = queuedOnFirstExecutor(2);
    h.answerRevoke("j.0.0.3.0", false);
    h.answerRevoke("j.0.0.2.0", true);
    h.runAll();
    const replayed = createState(TAKE_BACK);
    for (const { input, now } of h.inputs) step(replayed, input, now);
    expect(replayed).toEqual(h.state);
  });
});

describe("take-back from executors that may not start their queue", () => {
  it("a decommissioning node's queued tasks are asked back at once and run elsewhere; its started ones stay", () => {
    const h = new Harness(TAKE_BACK);
    h.addExecutor("e1", "n1", 4, 2);
    h.submit("j", singleStagePlan(6));
    // e2 joins: it gets the pending 4 and 5, and 3 is asked back from e1's queue.
    const joined = h.addExecutor("e2", "n2", 4, 2);
    expect(revokes(joined)).toEqual([["j.0.0.3.0", "e1"]]);
    h.answerRevoke("j.0.0.3.0", true);
    // Of 0, 1, 2 on e1 only 2 is thought queued.
    const requested = h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "scale-in" });
    expect(revokes(requested)).toEqual([["j.0.0.2.0", "e1"]]);
    expect(eventsIn(h.answerRevoke("j.0.0.2.0", true), "taskResubmitted").map((event) => event.partition)).toEqual([2]);
    h.runAll();
    expect(jobView(h.state, "j")).toMatchObject({ status: "succeeded", stats: { taskAttemptsFailed: 0, recomputedTasks: 0, tasksLaunched: 6 } });
    expect(launchesIn(h.log).filter((launch) => launch.executorId === "e1").map((launch) => launch.task.partition)).toEqual([0, 1, 2, 3]);
  });
});

describe("take-back off", () => {
  it("leaves a late executor idle while another's queue holds the work", () => {
    const { joined } = queuedOnFirstExecutor(2, { "ballast.scheduler.takeBack.enabled": "false" });
    expect(revokes(joined)).toEqual([]);
    expect(launchesIn(joined)).toEqual([]);
  });
});
