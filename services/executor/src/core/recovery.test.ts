import { describe, expect, it } from "vitest";
import { chooseLeader } from "@ballast/clients/schedulerDirectory";
import { FaultHook, FaultSpecError, parseFaultSpec } from "../tasks/faults.js";
import { drainForDecommission, type DrainDeps, type NodeStateName } from "./drain.js";
import { EpochFence } from "./fencing.js";
import type { TaskLaunch } from "@ballast/common/domain/tasks";

describe("EpochFence", () => {
  it("admits newer and equal epochs and unstamped messages, rejects older ones", () => {
    const fence = new EpochFence();
    expect(fence.admit(2)).toBe(true);
    expect(fence.admit(3)).toBe(true);
    expect(fence.highest).toBe(3);
    expect(fence.admit(3)).toBe(true);
    expect(fence.admit(2)).toBe(false);
    expect(fence.admit(0)).toBe(true);
    expect(fence.highest).toBe(3);
  });
});

describe("chooseLeader", () => {
  const answer = (address: string, leaderAddress: string, epoch: number, isLeader: boolean) => ({ address, response: { leaderAddress, epoch, isLeader } });
  it("prefers a scheduler claiming leadership, the highest epoch among several", () => {
    expect(chooseLeader([answer("a:1", "a:1", 2, true), answer("b:1", "b:1", 3, true)])).toBe("b:1");
    expect(chooseLeader([answer("a:1", "b:1", 3, false), answer("b:1", "b:1", 3, true)])).toBe("b:1");
  });
  it("follows a standby's pointer to an address not asked, but not a stale one", () => {
    expect(chooseLeader([answer("a:1", "c:1", 4, false), { address: "b:1", error: "unavailable" }])).toBe("c:1");
    expect(chooseLeader([answer("a:1", "b:1", 4, false), { address: "b:1", error: "unavailable" }])).toBeUndefined();
  });
  it("treats a scheduler without GetLeader as the leader", () => {
    expect(chooseLeader([{ address: "a:1", unimplemented: true }])).toBe("a:1");
  });
});

describe("drainForDecommission", () => {
  /** A scripted scheduler and clock: each poll advances time by the sleep. */
  function deps(script: { states: NodeStateName[]; tasks: number[]; requestFails?: number; unreachableFrom?: number }) {
    let now = 0;
    let polls = 0;
    let requestFailures = script.requestFails ?? 0;
    const events: string[] = [];
    const d: DrainDeps = {
      async requestDecommission() {
        if (requestFailures-- > 0) throw new Error("UNAVAILABLE");
      },
      async nodeState() {
        const i = polls++;
        if (script.unreachableFrom !== undefined && i >= script.unreachableFrom) throw new Error("UNAVAILABLE");
        return script.states[Math.min(i, script.states.length - 1)];
      },
      heldTasks: () => script.tasks[Math.min(polls, script.tasks.length) - 1] ?? script.tasks[0],
      now: () => now,
      async sleep(ms) {
        now += ms;
      },
      note: (event) => events.push(event),
    };
    return { d, events, polls: () => polls, now: () => now };
  }

  it("waits until the node is decommissioned and its tasks are done", async () => {
    const s = deps({ states: ["decommissioning", "decommissioning", "decommissioned", "decommissioned"], tasks: [1, 1, 1, 0] });
    expect(await drainForDecommission(s.d, { waitMs: 10_000, pollMs: 250 })).toBe("decommissioned");
    expect(s.polls()).toBe(4);
    expect(s.events).toContain("decommission requested");
  });
  it("stops at once when the scheduler says the node is lost", async () => {
    const s = deps({ states: ["lost"], tasks: [2] });
    expect(await drainForDecommission(s.d, { waitMs: 10_000, pollMs: 250 })).toBe("lost");
  });
  it("gives up at the deadline", async () => {
    const s = deps({ states: ["decommissioning"], tasks: [1] });
    expect(await drainForDecommission(s.d, { waitMs: 1000, pollMs: 250 })).toBe("deadline");
    expect(s.now()).toBe(1000);
  });
  it("with the scheduler unreachable, stops once its tasks finish, retrying the request meanwhile", async () => {
    const s = deps({ states: ["decommissioning"], tasks: [1], requestFails: 1, unreachableFrom: 0 });
    const outcome = drainForDecommission({ ...s.d, heldTasks: () => (s.now() >= 500 ? 0 : 1) }, { waitMs: 10_000, pollMs: 250 });
    expect(await outcome).toBe("tasks-finished-scheduler-unreachable");
    expect(s.events.filter((e) => e === "decommission request failed")).toHaveLength(1);
    expect(s.events).toContain("decommission requested");
  });
});

describe("fault hook", () => {
  const launch = (stageId: number) => ({ taskId: "t", stageId }) as TaskLaunch;
  it("parses the documented spec and rejects malformed ones with a clear message", () => {
    expect(parseFaultSpec('{"failStage":{"stageId":0,"message":"disk error"},"delayTaskMs":{"stageId":1,"ms":800},"nodeIds":["node-2"]}')).toEqual({
      failStage: { stageId: 0, message: "disk error" },
      delayTaskMs: { stageId: 1, ms: 800 },
      nodeIds: ["node-2"],
    });
    expect(() => parseFaultSpec("{")).toThrow(FaultSpecError);
    expect(() => parseFaultSpec('{"failStage":{"stageId":-1}}')).toThrow(/failStage.stageId must be a non-negative integer/);
    expect(() => parseFaultSpec('{"corruptBlock":{}}')).toThrow(/unknown keys: corruptBlock/);
  });
  it("fails only tasks of the named stage, and only on the named nodes", async () => {
    const spec = parseFaultSpec('{"failStage":{"stageId":1,"message":"disk error"},"nodeIds":["node-2"]}');
    const signal = new AbortController().signal;
    await expect(new FaultHook(spec, "node-2").beforeTask(launch(1), signal)).rejects.toThrow("disk error");
    await expect(new FaultHook(spec, "node-2").beforeTask(launch(0), signal)).resolves.toBeUndefined();
    expect(new FaultHook(spec, "node-1").active).toBe(false);
    await expect(new FaultHook(spec, "node-1").beforeTask(launch(1), signal)).resolves.toBeUndefined();
  });
});
