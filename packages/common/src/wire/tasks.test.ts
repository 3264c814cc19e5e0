import { describe, expect, it } from "vitest";
import { LaunchTask } from "@ballast/gen/scheduler";
import type { TaskLaunch } from "../domain/tasks.js";
import { InvalidArgumentError } from "../errors.js";
import { JobPlanCache, launchFromWire, launchToWire, SentPlans } from "./tasks.js";

const launch = (jobId: string, partition: number): TaskLaunch => ({
  taskId: `${jobId}.0.0.${partition}.0`,
  jobId,
  stageId: 0,
  stageAttempt: 0,
  partition,
  attempt: 0,
  bundleDigest: "0".repeat(64),
  plan: { jobName: "j", datasets: [{ id: 0, op: "range", parentIds: [], numPartitions: 4, wide: false, callSite: "j.ts:1", uri: "" }], shuffles: [], finalDatasetId: 0, action: "count", outputUri: "", args: [], inputs: [], graphHash: "h" },
  datasetId: 0,
  shuffleReads: [],
  conf: { "ballast.task.maxFailures": "2" },
});

/** Through the encoded bytes, as a launch travels. */
const overTheWire = (task: TaskLaunch, planCached: boolean) => LaunchTask.decode(LaunchTask.encode(launchToWire(task, "", 1, { planCached })).finish());

describe("launches that share their job's plan", () => {
  it("a plan_cached launch leaves plan and conf out and gets the cached ones, parsed once", () => {
    const cache = new JobPlanCache();
    const first = launchFromWire(overTheWire(launch("job-1", 0), false), cache);
    const wire = overTheWire(launch("job-1", 1), true);
    expect(wire.plan).toBeUndefined();
    expect(wire.conf).toEqual({});
    const second = launchFromWire(wire, cache);
    expect(second.partition).toBe(1);
    expect(second.plan).toBe(first.plan);
    expect(second.conf).toBe(first.conf);
    expect(second.conf).toEqual({ "ballast.task.maxFailures": "2" });
  });

  it("refuses a plan_cached launch for a job whose plan it never got", () => {
    expect(() => launchFromWire(overTheWire(launch("job-2", 0), true), new JobPlanCache())).toThrow(InvalidArgumentError);
  });

  it("the sender marks no more jobs cached than the receiver keeps", () => {
    const sent = new SentPlans(2);
    const cache = new JobPlanCache(3);
    for (const jobId of ["a", "b", "c"]) {
      expect(sent.markSent(jobId)).toBe(false);
      launchFromWire(overTheWire(launch(jobId, 0), false), cache);
    }
    expect(sent.markSent("c")).toBe(true);
    expect(sent.markSent("a")).toBe(false); // forgotten by the sender: sent in full again
    for (const jobId of ["b", "c"]) expect(cache.get(jobId)).toBeDefined();
  });
});
