import { describe, expect, it } from "vitest";
import { createState, executorViews, jobView, nextDueMs, step } from "./index.js";
import { cluster, commandsIn, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { threeStagePlan, twoStagePlan } from "./testing/plans.js";

const BASE = { "ballast.scheduler.recovery.executorReconnectTimeout": "30s", "ballast.executor.heartbeatInterval": "1s" };

/** A new leader: the same inputs replayed into a fresh state, then recoveryStarted. */
function takeOver(h: Harness, at: number): Harness {
  const next = new Harness(BASE);
  for (const { input, now } of h.inputs) {
    next.now = now;
    next.send(input);
  }
  for (const [id, executor] of h.executors) next.executors.set(id, executor);
  for (const [id, entry] of h.live) next.live.set(id, entry);
  next.log.length = 0;
  next.now = at;
  next.send({ type: "recoveryStarted", epoch: 2 });
  return next;
}

const reregister = (h: Harness, executorId: string, runningTaskIds: string[]) =>
  h.send({ type: "executorRegistered", executor: { ...h.executors.get(executorId)!, runningTaskIds } });

describe("scheduler failover", () => {
  it("keeps running tasks of executors that reconnect and loses those that do not, rerunning nothing finished", () => {
    const old = cluster(3, 2, BASE);
    old.submit("j", twoStagePlan(10, 2));
    for (const taskId of old.liveIds().slice(0, 3)) old.succeed(taskId);
    const running = (executorId: string) => old.liveIds().filter((id) => old.live.get(id)!.executorId === executorId);
    expect(old.liveIds()).toHaveLength(6);
    const e1Tasks = running("e1");
    const e3Tasks = running("e3");

    const h = takeOver(old, 10_000);
    expect(launchesIn(h.log)).toEqual([]); // nobody reconnected: no launches yet
    expect(executorViews(h.state)[0]).toMatchObject({ alive: true, state: "active", stateReason: expect.stringMatching(/reconnect/) });
    // e1 reconnects with all its tasks, e2 with one of them missing, e3 never.
    expect(commandsIn(reregister(h, "e1", e1Tasks), "killTask")).toEqual([]);
    const e2Tasks = running("e2");
    reregister(h, "e2", e2Tasks.slice(1));
    expect(launchesIn(h.log)).toEqual([]); // e1 and e2 are full, e3 has not reconnected
    // A resent final update right after registration is accepted; the last map takes its slot.
    expect(launchesIn(h.succeed(e2Tasks[0]!)).map((launch) => [launch.executorId, launch.task.partition])).toEqual([["e2", 9]]);
    h.send({ type: "heartbeat", executorId: "e2", runningTaskIds: h.liveIds().filter((id) => h.live.get(id)!.executorId === "e2") }, 2000);
    expect(eventsIn(h.log, "taskResubmitted")).toEqual([]);
    // e3 misses the reconnect deadline: lost, its running tasks resubmitted, its outputs kept.
    h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: h.liveIds().filter((id) => h.live.get(id)!.executorId === "e1") }, 26_000);
    h.send({ type: "heartbeat", executorId: "e2", runningTaskIds: h.liveIds().filter((id) => h.live.get(id)!.executorId === "e2") });
    expect(h.tick(2000).filter((command) => command.type === "emitEvent")).toEqual([]);
    for (const taskId of e3Tasks) h.live.delete(taskId);
    const lost = h.tick(1);
    expect(eventsIn(lost, "executorRemoved")).toEqual([expect.objectContaining({ executorId: "e3", reason: "did not reconnect after the scheduler failover (epoch 2)" })]);
    expect(commandsIn(lost, "closeSession").map((command) => command.executorId)).toEqual(["e3"]);
    expect(eventsIn(lost, "taskResubmitted").map((event) => event.taskId).sort()).toEqual([...e3Tasks].sort());
    expect(eventsIn(lost, "mapOutputsLost")).toEqual([]);
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view).toMatchObject({ status: "succeeded", stats: { recomputedTasks: 0, lostMapOutputs: 0 } });
    // Every map partition launched once, except e3's two unfinished ones (twice).
    const launches = [...launchesIn(old.log), ...launchesIn(h.log)].filter((launch) => launch.task.stageId === 0);
    expect(launches).toHaveLength(10 + e3Tasks.length);
    expect(e3Tasks).toHaveLength(2);
  });

  it("resubmits a task the reconnected executor does not list once the grace has passed", () => {
    const old = cluster(1, 2, BASE);
    old.submit("j", twoStagePlan(2, 1));
    const h = takeOver(old, 5000);
    reregister(h, "e1", ["j.0.0.1.0"]);
    h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: ["j.0.0.1.0"] }, 1999);
    expect(eventsIn(h.log, "taskResubmitted")).toEqual([]);
    const resubmitted = h.send({ type: "heartbeat", executorId: "e1", runningTaskIds: ["j.0.0.1.0"] }, 1);
    expect(eventsIn(resubmitted, "taskResubmitted").map((event) => event.taskId)).toEqual(["j.0.0.0.0"]);
    expect(launchesIn(resubmitted).map((launch) => launch.task.taskId)).toEqual(["j.0.0.0.1"]);
  });

  it("tells the shell when the next tick matters", () => {
    const h = cluster(1, 1, BASE);
    expect(nextDueMs(h.state)).toBe(5001); // heartbeat timeout
    h.send({ type: "recoveryStarted", epoch: 3 }, 100);
    expect(nextDueMs(h.state)).toBe(30_101);
  });
});

describe("replay determinism", () => {
  it("rebuilds exactly the state of every step from the persisted inputs", () => {
    const h = new Harness({ "ballast.scheduler.resubmitDelay": "100ms", "ballast.executor.heartbeatTimeout": "2s" });
    const snapshots: unknown[] = [];
    const send = h.send.bind(h);
    h.send = (input, advanceMs = 0) => {
      const commands = send(input, advanceMs);
      snapshots.push(structuredClone(h.state));
      return commands;
    };
    for (let i = 1; i <= 4; i++) h.addExecutor(`e${i}`, `n${i}`, 2);
    h.submit("j", threeStagePlan(6, 4, 3));
    h.submit("k", twoStagePlan(3, 2));
    for (const taskId of h.liveIds().slice(0, 5)) h.succeed(taskId);
    h.fail(h.liveIds()[0]!, { kind: "userError", message: "boom" });
    h.send({ type: "decommissionNode", nodeId: "n4", deadlineMs: 50, reason: "spot" });
    h.loseExecutor("e2");
    h.loseNode("n2");
    h.tick(100);
    h.send({ type: "recoveryStarted", epoch: 2 }, 10);
    for (const id of ["e1", "e3", "e4"]) {
      const runningTaskIds = h.liveIds().filter((taskId) => h.live.get(taskId)!.executorId === id);
      h.send({ type: "executorRegistered", executor: { ...h.executors.get(id)!, runningTaskIds: [...runningTaskIds, "stale-task"] } });
    }
    h.runAll();
    expect(jobView(h.state, "j")!.status).toBe("succeeded");

    const fresh = createState({ "ballast.scheduler.resubmitDelay": "100ms", "ballast.executor.heartbeatTimeout": "2s" });
    h.inputs.forEach(({ input, now }, index) => {
      step(fresh, input, now);
      expect(fresh).toEqual(snapshots[index]);
    });
  });
});
