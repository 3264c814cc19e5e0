import { serialize, deserialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { applicationView, createState, jobView, step } from "./index.js";
import { commandsIn, Harness } from "./testing/harness.js";
import { singleStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

const APP = "app-d";

function detached(h: Harness, conf: Record<string, string> = {}): Command[] {
  return h.send({ type: "applicationRegistered", applicationId: APP, name: "explore", user: "ada", bundleDigest: "d".repeat(64), args: [], conf, detached: true });
}

const launches = (commands: Command[]) => commandsIn(commands, "launchDriver").map((c) => [c.executorId, c.attempt]);

function twoExecutors(conf: Record<string, string> = {}): Harness {
  const h = new Harness(conf);
  h.addExecutor("e2", "n2");
  h.addExecutor("e1", "n1");
  return h;
}

describe("supervised drivers of detached applications", () => {
  it("places the driver on the usable executor with the fewest drivers, the lowest id first, as its submitter", () => {
    const h = twoExecutors();
    const commands = detached(h);
    expect(commandsIn(commands, "launchDriver")).toEqual([{ type: "launchDriver", executorId: "e1", applicationId: APP, attempt: 1, user: "ada" }]);
    const second = h.send({ type: "applicationRegistered", applicationId: "app-2", name: "b", user: "bob", bundleDigest: "d".repeat(64), args: [], conf: {}, detached: true });
    expect(launches(second)).toEqual([["e2", 1]]);
    expect(applicationView(h.state, APP)).toMatchObject({ detached: true, driver: { executorId: "e1", attempt: 1, failures: 0 } });
  });

  it("an attached application gets no driver", () => {
    const h = twoExecutors();
    const commands = h.send({ type: "applicationRegistered", applicationId: APP, name: "a", user: "ada", bundleDigest: "d".repeat(64), args: [], conf: {}, detached: false });
    expect(launches(commands)).toEqual([]);
    expect(applicationView(h.state, APP)?.driver).toBeUndefined();
  });

  it("waits for an executor when none is usable, and is placed when one registers", () => {
    const h = new Harness();
    expect(launches(detached(h))).toEqual([]);
    expect(applicationView(h.state, APP)?.driver).toMatchObject({ executorId: "", attempt: 0 });
    expect(launches(h.addExecutor("e1", "n1"))).toEqual([["e1", 1]]);
  });

  it("its executor lost: placed again elsewhere, counted as a failure, with the cause", () => {
    const h = twoExecutors();
    detached(h);
    const commands = h.loseExecutor("e1", "heartbeat timeout");
    expect(launches(commands)).toEqual([["e2", 2]]);
    expect(applicationView(h.state, APP)!.driver).toMatchObject({ executorId: "e2", attempt: 2, failures: 1 });
    expect(applicationView(h.state, APP)!.driver!.lastFailure).toContain("executor e1 running driver attempt 1 lost: heartbeat timeout");
  });

  it("a crash exit is placed again; a stale attempt's exit and an exit after the application ended change nothing", () => {
    const h = twoExecutors();
    detached(h);
    expect(launches(h.send({ type: "driverExited", executorId: "e1", applicationId: APP, attempt: 1, exitCode: 1, reason: "the driver program threw: boom" }))).toEqual([["e2", 2]]);
    expect(launches(h.send({ type: "driverExited", executorId: "e1", applicationId: APP, attempt: 1, exitCode: 1, reason: "late" }))).toEqual([]);
    h.send({ type: "applicationFinished", applicationId: APP, status: "succeeded", error: "" });
    expect(launches(h.send({ type: "driverExited", executorId: "e2", applicationId: APP, attempt: 2, exitCode: 0, reason: "" }))).toEqual([]);
    expect(launches(h.loseExecutor("e2"))).toEqual([]);
    expect(applicationView(h.state, APP)).toMatchObject({ status: "succeeded", driver: { failures: 1 } });
  });

  it("after ballast.driver.maxFailures failures the application fails with the last cause, and its running job is cancelled", () => {
    const h = twoExecutors();
    detached(h, { "ballast.driver.maxFailures": "2" });
    const plan = { ...singleStagePlan(1, "count"), driver: { actionIndex: 0, recordedResults: "", callSite: "explore.ts:3" } };
    h.send({ type: "jobSubmitted", jobId: "j0", plan, bundleDigest: "d".repeat(64), conf: {}, traceparent: "", applicationId: APP });
    h.send({ type: "driverExited", executorId: "e1", applicationId: APP, attempt: 1, exitCode: 3, reason: "first" });
    const last = h.send({ type: "driverExited", executorId: "e2", applicationId: APP, attempt: 2, exitCode: 3, reason: "second" });
    expect(launches(last)).toEqual([]);
    const view = applicationView(h.state, APP)!;
    expect(view.status).toBe("failed");
    expect(view.error?.message).toBe("the driver failed 2 time(s) (ballast.driver.maxFailures=2); last: driver attempt 2 on executor e2 exited with code 3: second");
    expect(jobView(h.state, "j0")?.status).toBe("cancelled");
  });

  it("an executor re-registering without a driver it was believed to run gets it placed again, not counted", () => {
    const h = twoExecutors();
    detached(h);
    const commands = h.send({ type: "executorRegistered", executor: { ...h.executors.get("e1")!, runningDrivers: [] } });
    expect(launches(commands)).toEqual([["e1", 2]]);
    expect(applicationView(h.state, APP)!.driver).toMatchObject({ failures: 0 });
    expect(launches(h.send({ type: "executorRegistered", executor: { ...h.executors.get("e1")!, runningDrivers: [APP] } }))).toEqual([]);
  });

  it("an executor lost while its driver ran, re-registering with it, is told to stop it: only the new attempt replays", () => {
    const h = twoExecutors();
    detached(h);
    h.loseExecutor("e1", "heartbeat timeout (stopped)");
    const commands = h.send({ type: "executorRegistered", executor: { ...h.executors.get("e1")!, runningDrivers: [APP] } });
    expect(commandsIn(commands, "stopDriver")).toEqual([{ type: "stopDriver", executorId: "e1", applicationId: APP, reason: "placed on e2 since this executor was lost" }]);
    expect(launches(commands)).toEqual([]);
    expect(applicationView(h.state, APP)!.driver).toMatchObject({ executorId: "e2", attempt: 2 });
  });

  it("cancelling a detached application stops its driver", () => {
    const h = twoExecutors();
    detached(h);
    const commands = h.send({ type: "applicationFinished", applicationId: APP, status: "cancelled", error: "cancelled by user" });
    expect(commandsIn(commands, "stopDriver")).toEqual([{ type: "stopDriver", executorId: "e1", applicationId: APP, reason: "its application was cancelled" }]);
  });

  it("replaying the inputs rebuilds the same placements, and the state survives a snapshot", () => {
    const h = twoExecutors();
    detached(h);
    h.loseExecutor("e1");
    const replayed = createState();
    const commands = h.inputs.flatMap(({ input, now }) => step(replayed, input, now));
    expect(launches(commands)).toEqual(launches(h.log));
    expect(applicationView(deserialize(serialize(replayed)), APP)).toEqual(applicationView(h.state, APP));
  });
});
