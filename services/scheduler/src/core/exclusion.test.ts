import { describe, expect, it } from "vitest";
import { confProblem, executorViews, jobView, nodeViews } from "./index.js";
import { commandsIn, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { singleStagePlan, twoStagePlan } from "./testing/plans.js";

const userError = { kind: "userError" as const, message: "Error: disk I/O error", stack: "at job.ts:2" };

/** Executors e<i> on nodes given as a list of node ids (several executors may share a node). */
function cluster(nodes: string[], slots = 2, conf: Record<string, string> = {}): Harness {
  const harness = new Harness(conf);
  nodes.forEach((nodeId, i) => harness.addExecutor(`e${i + 1}`, nodeId, slots));
  return harness;
}

function placements(h: Harness, stageId: number): string[] {
  return launchesIn(h.log).filter((launch) => launch.task.stageId === stageId).map((launch) => launch.executorId);
}

/** Fails every live task of the stage placed on `executorId`, succeeds the others, until the stage has no live task. */
function runWithBadExecutor(h: Harness, stageId: number, executorId: string): void {
  for (let guard = 0; guard < 1000 && h.liveIds(stageId).length > 0; guard++) {
    const taskId = h.liveIds(stageId)[0]!;
    if (h.live.get(taskId)!.executorId === executorId) h.fail(taskId, userError);
    else h.succeed(taskId);
  }
}

/** Time passes with every executor heartbeating, then one tick. */
function keepAlive(h: Harness, ms: number): void {
  h.now += ms;
  for (const executorId of h.executors.keys()) h.send({ type: "heartbeat", executorId, runningTaskIds: h.liveIds().filter((id) => h.live.get(id)!.executorId === executorId) });
  h.tick(0);
}

describe("configuration", () => {
  it("rejects maxTaskAttemptsPerNode >= maxFailures while exclusion is on", () => {
    expect(confProblem({})).toBeUndefined();
    expect(confProblem({ "ballast.task.maxFailures": "2" })).toMatch(/^ballast\.excludeOnFailure\.task\.maxTaskAttemptsPerNode \(2\) must be less than ballast\.task\.maxFailures \(2\)/);
    expect(confProblem({ "ballast.task.maxFailures": "2", "ballast.excludeOnFailure.enabled": "false" })).toBeUndefined();
    expect(confProblem({ "ballast.task.maxFailures": "x" })).toMatch(/^invalid configuration: invalid value for ballast\.task\.maxFailures/);
    const h = cluster(["n1"]);
    h.submit("j", singleStagePlan(1), { "ballast.task.maxFailures": "2" });
    expect(jobView(h.state, "j")).toMatchObject({ status: "failed", error: { kind: "invalidConf", message: expect.stringMatching(/maxTaskAttemptsPerNode/) } });
  });
});

describe("exclusion levels", () => {
  it("task level: a retry avoids the executors and then the node it failed on", () => {
    const h = cluster(["n1", "n1", "n2"], 1);
    h.submit("j", singleStagePlan(1));
    h.fail("j.0.0.0.0", userError); // on e1
    h.fail("j.0.0.0.1", userError); // on e2: node n1 has 2 failures of this task
    h.fail("j.0.0.0.2", userError); // on e3: now excluded everywhere, so it runs anyway (not on the latest)
    expect(placements(h, 0)).toEqual(["e1", "e2", "e3", "e1"]);
    expect(jobView(h.state, "j")!.status).toBe("running");
  });

  it("stage level: an executor with 2 failed tasks, then its node, get no more tasks of the stage", () => {
    const h = cluster(["n1", "n1", "n2", "n3"], 1);
    h.submit("j", twoStagePlan(12, 1));
    // e1 and e2 (both on n1) fail everything of stage 0.
    for (let guard = 0; guard < 100 && h.liveIds(0).length > 0; guard++) {
      const taskId = h.liveIds(0)[0]!;
      const on = h.live.get(taskId)!.executorId;
      if (on === "e1" || on === "e2") h.fail(taskId, userError);
      else h.succeed(taskId);
    }
    const stageExclusions = eventsIn(h.log, "exclusionChanged").filter((event) => event.stageScoped);
    expect(stageExclusions.map((event) => [event.scope, event.id, event.stageId, event.jobId])).toEqual([
      ["executor", "e2", 0, "j"],
      ["executor", "e1", 0, "j"],
      ["node", "n1", 0, "j"],
    ]);
    expect(placements(h, 0).filter((id) => id === "e1" || id === "e2")).toHaveLength(4);
    // Stage 1 (a new stage) may use them again, but the application level now excludes both (2 failures each).
    const appExclusions = eventsIn(h.log, "exclusionChanged").filter((event) => !event.stageScoped);
    expect(appExclusions.map((event) => [event.scope, event.id, event.excluded, event.jobId, event.untilMs])).toEqual([
      ["executor", "e1", true, "", 3_600_000],
      ["executor", "e2", true, "", 3_600_000],
      ["node", "n1", true, "", 3_600_000],
    ]);
    expect(placements(h, 1)).toEqual(["e3"]);
    expect(nodeViews(h.state).map((node) => [node.nodeId, node.state])).toEqual([["n1", "excluded"], ["n2", "active"], ["n3", "active"]]);
    expect(executorViews(h.state).find((executor) => executor.executorId === "e1")).toMatchObject({ state: "excluded", excludedUntilMs: 3_600_000, stateReason: "2 failed tasks in successful stages" });
    h.runAll();
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
    expect(h.log.some((command) => command.type === "spanEvent" && command.key === "job:j" && command.name === "exclusionChanged")).toBe(true);
  });

  it("application level: expires after the timeout; killExcludedExecutors shuts the executor down", () => {
    const h = cluster(["n1", "n2", "n3"], 1, { "ballast.excludeOnFailure.timeout": "10s", "ballast.excludeOnFailure.killExcludedExecutors": "true" });
    h.submit("a", singleStagePlan(6));
    runWithBadExecutor(h, 0, "e1");
    expect(jobView(h.state, "a")!.status).toBe("succeeded");
    expect(commandsIn(h.log, "shutdownExecutor")).toEqual([{ type: "shutdownExecutor", executorId: "e1", reason: "excluded: 2 failed tasks in successful stages" }]);
    h.submit("b", singleStagePlan(3));
    expect(placements(h, 0).slice(-3).sort()).toEqual(["e2", "e2", "e3"]);
    h.runAll();
    h.now += 10_000;
    for (const executorId of ["e1", "e2", "e3"]) h.send({ type: "heartbeat", executorId, runningTaskIds: [] });
    const expired = h.tick(0);
    expect(eventsIn(expired, "exclusionChanged")).toEqual([expect.objectContaining({ scope: "executor", id: "e1", excluded: false, reason: "exclusion timeout expired" })]);
    h.submit("c", singleStagePlan(1));
    expect(placements(h, 0).at(-1)).toBe("e1");
  });

  it("never excludes more than maxExcludedNodeRatio of the nodes; a task failing everywhere aborts with the user's error", () => {
    const h = cluster(["n1", "n2"], 1);
    h.submit("j", singleStagePlan(8));
    for (let guard = 0; guard < 100 && h.liveIds().length > 0; guard++) h.fail(h.liveIds()[0]!, userError);
    expect(eventsIn(h.log, "exclusionChanged")).toEqual([]); // 2 nodes x 0.33 allows none
    expect(h.log.some((command) => command.type === "spanEvent" && command.name === "exclusionSkipped")).toBe(true);
    expect(jobView(h.state, "j")!.error).toMatchObject({ kind: "userError", message: expect.stringMatching(/failed 4 times; most recent failure: Error: disk I\/O error/) });
  });

  it("lifts an exclusion when lost nodes would put the excluded share above the cap", () => {
    const h = cluster(["n1", "n2", "n3"], 1);
    h.submit("a", singleStagePlan(6));
    runWithBadExecutor(h, 0, "e1");
    expect(nodeViews(h.state)[0]!.state).toBe("excluded");
    const lifted = h.loseNode("n3");
    expect(eventsIn(lifted, "exclusionChanged")).toEqual([expect.objectContaining({ id: "e1", excluded: false, reason: expect.stringMatching(/maxExcludedNodeRatio/) })]);
  });

  it("aborts a stage that exclusions leave nowhere to run after unschedulableTimeout, naming them", () => {
    const h = cluster(["n1", "n2"], 1, { "ballast.excludeOnFailure.maxExcludedNodeRatio": "1" });
    h.submit("j", twoStagePlan(8, 1));
    for (let guard = 0; guard < 8 && h.liveIds().length > 0; guard++) h.fail(h.liveIds()[0]!, userError);
    expect(h.liveIds()).toEqual([]);
    expect(jobView(h.state, "j")!.status).toBe("running");
    keepAlive(h, 119_999);
    expect(jobView(h.state, "j")!.status).toBe("running");
    h.tick(1);
    expect(jobView(h.state, "j")!.error).toEqual({
      kind: "unschedulable",
      stack: "",
      message: "Stage 0 (map at job.ts:2) could not run anywhere for 120000ms because of exclusions: executor e1 excluded for the stage (2 failed tasks); executor e2 excluded for the stage (2 failed tasks)",
    });
  });

  it("does not avoid anything when exclusion is disabled", () => {
    const h = cluster(["n1", "n2"], 1, { "ballast.excludeOnFailure.enabled": "false" });
    h.submit("j", singleStagePlan(1));
    for (let attempt = 0; attempt < 4; attempt++) h.fail(`j.0.0.0.${attempt}`, userError);
    expect(placements(h, 0)).toEqual(["e1", "e1", "e1", "e1"]);
    expect(jobView(h.state, "j")!.status).toBe("failed");
  });
});

describe("cross-job node failure score", () => {
  const conf = { "ballast.excludeOnFailure.application.maxFailedTasksPerExecutor": "100", "ballast.excludeOnFailure.nodeScore.halfLife": "1h" };

  /** One job whose only task fails on e1 (placed first) and succeeds on its retry elsewhere. */
  function flakyJob(h: Harness, jobId: string): void {
    h.submit(jobId, singleStagePlan(1));
    const [taskId] = h.liveIds();
    if (h.live.get(taskId!)!.executorId === "e1") h.fail(taskId!, userError);
    h.runAll();
  }

  it("excludes a node whose decayed failure share passes the threshold across jobs", () => {
    const h = cluster(["n1", "n2", "n3"], 1, conf);
    for (let i = 0; i < 3; i++) flakyJob(h, `j${i}`);
    expect(nodeViews(h.state)[0]).toMatchObject({ state: "active", failureScore: 1 });
    for (let i = 3; i < 6; i++) flakyJob(h, `j${i}`);
    const excluded = eventsIn(h.log, "exclusionChanged");
    expect(excluded).toEqual([expect.objectContaining({ jobId: "", scope: "node", id: "n1", excluded: true, reason: "failure score 1.00 of 6.0 decayed task attempts above 0.5" })]);
    h.submit("next", singleStagePlan(2));
    expect(launchesIn(h.log).slice(-2).map((launch) => launch.executorId)).toEqual(["e2", "e3"]);
  });

  it("forgets old failures: attempts decay with the half-life", () => {
    const h = cluster(["n1", "n2", "n3"], 1, conf);
    for (let i = 0; i < 5; i++) flakyJob(h, `j${i}`);
    keepAlive(h, 10 * 3_600_000);
    flakyJob(h, "late");
    expect(eventsIn(h.log, "exclusionChanged")).toEqual([]);
    expect(nodeViews(h.state)[0]!.state).toBe("active");
  });
});
