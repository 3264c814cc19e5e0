import { describe, expect, it } from "vitest";
import { jobView } from "./index.js";
import { eventsIn, Harness } from "./testing/harness.js";
import { singleStagePlan } from "./testing/plans.js";

function cluster(executors: number, conf: Record<string, string> = {}): Harness {
  const h = new Harness(conf);
  for (let i = 1; i <= executors; i++) h.addExecutor(`e${i}`, `n${i}`, 1);
  return h;
}

const onlyLive = (h: Harness): { taskId: string; executorId: string } => {
  const [taskId] = h.liveIds();
  return { taskId: taskId!, executorId: h.live.get(taskId!)!.executorId };
};

describe("a task that keeps killing its executor", () => {
  it("fails its job after ballast.task.maxFailures lost executors, with a reason that names the task", () => {
    const h = cluster(5);
    h.submit("j", singleStagePlan(1));
    for (let loss = 1; loss <= 3; loss++) {
      h.loseExecutor(onlyLive(h).executorId, "stream closed");
      expect(jobView(h.state, "j")!.status).toBe("running");
    }
    const last = h.loseExecutor(onlyLive(h).executorId, "stream closed");
    expect(eventsIn(last, "jobEnded")).toEqual([expect.objectContaining({ status: "failed" })]);
    expect(jobView(h.state, "j")!.error).toMatchObject({
      kind: "executorLost",
      message: expect.stringMatching(/^Task 0 of stage 0 was running on 4 executors that were lost \(ballast\.task\.maxFailures = 4\); the task may be what kills them\. Most recent: executor e\d lost: stream closed$/),
    });
  });

  it("counts heartbeat timeouts too, but not losses of whole nodes", () => {
    const h = cluster(6, { "ballast.task.maxFailures": "3" });
    h.submit("j", singleStagePlan(1));
    for (let loss = 1; loss <= 3; loss++) h.loseNode(h.executors.get(onlyLive(h).executorId)!.nodeId);
    h.loseExecutor(onlyLive(h).executorId); // counted: 1
    // E.g. a task stuck in a native loop that starves its executor's heartbeats.
    const { taskId: stuck, executorId: silent } = onlyLive(h);
    const others = [...h.executors.keys()].filter((id) => id !== silent && h.state.executors.get(id)!.alive);
    others.forEach((id, i) => h.send({ type: "heartbeat", executorId: id, runningTaskIds: [] }, i === 0 ? 5_001 : 0));
    h.tick(0); // counted: 2
    h.live.delete(stuck);
    expect(h.state.executors.get(silent)!.alive).toBe(false);
    expect(jobView(h.state, "j")!.status).toBe("running");
    h.loseExecutor(onlyLive(h).executorId); // counted: 3
    expect(jobView(h.state, "j")!.error).toMatchObject({ kind: "executorLost", message: expect.stringContaining("running on 3 executors that were lost") });
  });
});

describe("ballast.task.timeout", () => {
  it("kills a hung attempt, retries it elsewhere, and fails the job after maxFailures timeouts", () => {
    const h = cluster(4, { "ballast.task.timeout": "1s" });
    h.submit("j", singleStagePlan(1));
    for (let attempt = 0; attempt < 3; attempt++) {
      const { taskId, executorId } = onlyLive(h);
      const fired = h.tick(1_000);
      expect(fired).toContainEqual(expect.objectContaining({ type: "killTask", executorId, taskId }));
      expect(eventsIn(fired, "taskEnded")).toContainEqual(expect.objectContaining({ taskId, state: "failed", error: expect.objectContaining({ kind: "taskTimedOut" }) }));
      h.send({ type: "taskUpdate", executorId, taskId, state: "killed" }); // the executor confirms: the slot is free again
      expect(h.liveIds()).toHaveLength(1);
    }
    h.tick(1_000);
    expect(jobView(h.state, "j")).toMatchObject({
      status: "failed",
      error: { kind: "taskTimedOut", message: expect.stringMatching(/failed 4 times; most recent failure: task j\.0\.0\.0\.3 ran longer than ballast\.task\.timeout \(1000ms\)/) },
    });
  });

  it("leaves a task that finishes in time alone, and sets no timer when it is 0", () => {
    const h = cluster(1, { "ballast.task.timeout": "1s" });
    h.submit("j", singleStagePlan(1));
    expect(h.state.timers.some((timer) => timer.kind === "taskTimeout")).toBe(true);
    h.succeed(onlyLive(h).taskId);
    expect(h.state.timers.some((timer) => timer.kind === "taskTimeout")).toBe(false);
    h.tick(5_000);
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
    const untimed = cluster(1);
    untimed.submit("k", singleStagePlan(1));
    expect(untimed.state.timers.some((timer) => timer.kind === "taskTimeout")).toBe(false);
  });
});
