import { serialize, deserialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { applicationView, createState, jobView, step, type SchedulerState } from "./index.js";
import { Harness } from "./testing/harness.js";
import { singleStagePlan } from "./testing/plans.js";
import type { Input, Plan } from "./types.js";

const APP = "app-1";

function cluster(conf: Record<string, string> = {}): Harness {
  const h = new Harness(conf);
  h.addExecutor("e1", "n1", 2);
  return h;
}

function register(h: Harness, conf: Record<string, string> = {}): void {
  h.send({ type: "applicationRegistered", applicationId: APP, name: "explore", user: "ada", bundleDigest: "d".repeat(64), args: ["--input", "x"], conf, detached: false });
}

/** Action `index` of the application, as the driver's replay would plan it. */
function actionPlan(index: number): Plan {
  return { ...singleStagePlan(1, "count"), driver: { actionIndex: index, recordedResults: "", callSite: `explore.ts:${10 + index}` } };
}

function submitAction(h: Harness, jobId: string, index: number): void {
  h.send({ type: "jobSubmitted", jobId, plan: actionPlan(index), bundleDigest: "d".repeat(64), conf: {}, traceparent: "", applicationId: APP });
}

function runAction(h: Harness, jobId: string, index: number): void {
  submitAction(h, jobId, index);
  h.succeed(`${jobId}.0.0.0.0`);
}

describe("the application record", () => {
  it("keeps the program, its arguments and conf, and each action's latest job in action order", () => {
    const h = cluster();
    register(h, { "ballast.task.maxFailures": "7" });
    runAction(h, "j0", 0);
    submitAction(h, "j1", 1);
    const view = applicationView(h.state, APP)!;
    expect(view).toMatchObject({ applicationId: APP, name: "explore", user: "ada", args: ["--input", "x"], conf: { "ballast.task.maxFailures": "7" }, status: "running" });
    expect(view.actions.map((job) => [job.jobId, job.status, job.action?.callSite])).toEqual([
      ["j0", "succeeded", "explore.ts:10"],
      ["j1", "running", "explore.ts:11"],
    ]);
    expect(view.actions[0]!.result).toMatchObject({ action: "count" });
  });

  it("a registration sent again changes nothing", () => {
    const h = cluster();
    register(h);
    runAction(h, "j0", 0);
    h.send({ type: "applicationRegistered", applicationId: APP, name: "other", user: "eve", bundleDigest: "e".repeat(64), args: [], conf: {}, detached: false });
    expect(applicationView(h.state, APP)).toMatchObject({ name: "explore", user: "ada", actions: [{ jobId: "j0" }] });
  });

  it("an action's recorded result outlives its job's eviction", () => {
    const h = cluster({ "ballast.scheduler.jobRetention": "1s", "ballast.scheduler.applicationRetention": "60s" });
    register(h);
    runAction(h, "j0", 0);
    const recorded = applicationView(h.state, APP)!.actions[0]!;
    h.tick(1_000);
    expect(jobView(h.state, "j0")).toBeUndefined();
    expect(applicationView(h.state, APP)!.actions).toEqual([recorded]);
    expect(recorded.stages).toEqual([]);
  });

  it("keeps results within ballast.scheduler.applicationResults; an action beyond it is not recorded", () => {
    const h = cluster({ "ballast.scheduler.applicationResults": "2", "ballast.scheduler.jobRetention": "1s" });
    register(h);
    for (const index of [0, 1, 2]) runAction(h, `j${index}`, index); // 1 byte of records each
    h.tick(1_000);
    expect(applicationView(h.state, APP)!.actions.map((job) => job.jobId)).toEqual(["j0", "j1"]);
  });

  it("a resubmitted action (after a failed job) shows its latest job", () => {
    const h = cluster();
    register(h);
    submitAction(h, "j0", 0);
    h.send({ type: "cancelJob", jobId: "j0", reason: "test" });
    runAction(h, "j0b", 0);
    expect(applicationView(h.state, APP)!.actions.map((job) => [job.jobId, job.status])).toEqual([["j0b", "succeeded"]]);
  });

  it("leaves the state ballast.scheduler.applicationRetention after the driver finished, and only then", () => {
    const h = cluster({ "ballast.scheduler.applicationRetention": "10s" });
    register(h);
    runAction(h, "j0", 0);
    h.tick(60_000);
    expect(applicationView(h.state, APP)?.status).toBe("running"); // a running driver's record never expires
    h.send({ type: "applicationFinished", applicationId: APP, status: "failed", error: "the driver program threw: boom" });
    expect(applicationView(h.state, APP)).toMatchObject({ status: "failed", error: { message: "the driver program threw: boom" } });
    h.tick(9_999);
    expect(applicationView(h.state, APP)).toBeDefined();
    h.tick(1);
    expect(applicationView(h.state, APP)).toBeUndefined();
    expect(h.state.timers.filter((timer) => timer.kind === "applicationEviction")).toEqual([]);
  });

  it("cancelling it cancels its running job; a finish sent again changes nothing", () => {
    const h = cluster();
    register(h);
    submitAction(h, "j0", 0);
    h.send({ type: "applicationFinished", applicationId: APP, status: "cancelled", error: "cancelled by user" });
    expect(jobView(h.state, "j0")!.status).toBe("cancelled");
    h.send({ type: "applicationFinished", applicationId: APP, status: "succeeded", error: "" });
    expect(applicationView(h.state, APP)!.status).toBe("cancelled");
  });

  it("jobs of an application that never registered (an older client) are not recorded", () => {
    const h = cluster();
    runAction(h, "j0", 0);
    expect(applicationView(h.state, APP)).toBeUndefined();
    expect(h.state.applications.size).toBe(0);
  });

  it("survives a snapshot and a replay of the log alike", () => {
    const inputs: Input[] = [];
    const h = cluster();
    const record = (input: Input) => {
      inputs.push(input);
      return input;
    };
    h.send(record({ type: "applicationRegistered", applicationId: APP, name: "explore", user: "", bundleDigest: "d".repeat(64), args: [], conf: {}, detached: false }));
    h.send(record({ type: "jobSubmitted", jobId: "j0", plan: actionPlan(0), bundleDigest: "d".repeat(64), conf: {}, traceparent: "", applicationId: APP }));
    const fromSnapshot = deserialize(serialize(h.state)) as SchedulerState;
    expect(applicationView(fromSnapshot, APP)).toEqual(applicationView(h.state, APP));
    const replayed = createState();
    for (const input of inputs) step(replayed, input, h.state.nowMs);
    expect(applicationView(replayed, APP)!.actions.map((job) => job.jobId)).toEqual(["j0"]);
  });
});
