import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@ballast/gen/common";
import { FailureKind, type TaskUpdate } from "@ballast/gen/scheduler";
import { shuffleIdOf } from "@ballast/common/plan";
import { waitFor } from "./testing/fakeScheduler.js";
import { JOB_ID, launchOf, startHarness, type Harness } from "./testing/harness.js";
import { bundleJob, PAIRS_JOB, planOf, TEXT_JOB } from "./testing/jobs.js";

const unpack = (bytes: Uint8Array) => new Packr({ useRecords: false }).unpack(bytes);

describe("executor data path", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  const finalUpdate = (taskId: string): Promise<TaskUpdate> =>
    waitFor(`final update of ${taskId}`, () => h.scheduler.updatesFor(taskId).find((u) => u.state !== TaskState.TASK_STATE_RUNNING));

  it("writes map outputs to the node's shuffle service and reduces them from it", async () => {
    const job = await bundleJob(h.dir, "pairs", PAIRS_JOB);
    h.staging.addFile(job.bundlePath);
    const plan = await planOf(job);
    const [shuffle] = plan.shuffles;
    for (const partition of [0, 1]) {
      const shuffleWrite = { shuffleIndex: 0, numReducePartitions: shuffle.numReducePartitions };
      h.scheduler.launch(launchOf(job, plan, { taskId: `map-${partition}`, partition, datasetId: shuffle.parentDatasetId, shuffleWrite, attempt: 1 }));
    }
    const maps = await Promise.all([finalUpdate("map-0"), finalUpdate("map-1")]);
    for (const [mapIndex, update] of maps.entries()) {
      expect(update.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
      expect(update.mapStatus).toMatchObject({ shuffleId: shuffleIdOf(JOB_ID, 0), mapIndex, attempt: 1, shuffleAddress: h.shuffle.address, nodeId: "node-1" });
      expect(update.mapStatus!.partitionSizes).toHaveLength(2);
      expect(update.metrics!.shuffleBytesWritten).toBe(update.mapStatus!.partitionSizes.reduce((a, b) => a + b, 0));
    }
    const locations = maps.map((u) => ({ mapIndex: u.mapStatus!.mapIndex, attempt: 1, shuffleAddress: u.mapStatus!.shuffleAddress, nodeId: "node-1" }));
    const shuffleReads = [{ shuffleIndex: 0, shuffleId: shuffleIdOf(JOB_ID, 0), numMaps: 2, locations }];
    for (const partition of [0, 1]) h.scheduler.launch(launchOf(job, plan, { taskId: `reduce-${partition}`, partition, shuffleReads }));
    const reduces = await Promise.all([finalUpdate("reduce-0"), finalUpdate("reduce-1")]);
    const counts = new Map(reduces.flatMap((u) => unpack(u.result!.records) as Array<[number, number]>));
    expect(counts).toEqual(new Map([[0, 4], [1, 3], [2, 3]]));
    expect(reduces[0].metrics!.shuffleBytesRead + reduces[1].metrics!.shuffleBytesRead).toBeGreaterThan(0);
  });

  it("fails a reduce task with a fetch failure when a map output's shuffle service is gone", async () => {
    const job = await bundleJob(h.dir, "pairs2", PAIRS_JOB.replace('"pairs"', '"pairs2"'));
    h.staging.addFile(job.bundlePath);
    const plan = await planOf(job);
    const locations = [0, 1].map((mapIndex) => ({ mapIndex, attempt: 0, shuffleAddress: "127.0.0.1:1", nodeId: "node-gone" }));
    const shuffleReads = [{ shuffleIndex: 0, shuffleId: shuffleIdOf(JOB_ID, 0), numMaps: 2, locations }];
    const conf = { "ballast.shuffle.io.maxRetries": "2", "ballast.shuffle.io.retryWait": "10ms" };
    h.scheduler.launch(launchOf(job, plan, { taskId: "reduce-gone", partition: 0, shuffleReads, conf }));
    const update = await finalUpdate("reduce-gone");
    expect(update.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(update.failure!.kind).toBe(FailureKind.FAILURE_KIND_FETCH_FAILED);
    expect(update.failure!.fetch).toMatchObject({ shuffleAddress: "127.0.0.1:1", nodeId: "node-gone", serviceUnreachable: true });
  });

  describe("saveAsTextFile commits exactly once", () => {
    it("leaves an authorized part under _temporary/<attempt>/ for the job commit and removes a denied one", async () => {
      const input = join(h.dir, "input.txt");
      writeFileSync(input, "alpha\nbeta\ngamma\ndelta\n");
      const outDir = join(h.dir, "out");
      const job = await bundleJob(h.dir, "upper", TEXT_JOB);
      h.staging.addFile(job.bundlePath);
      const inputUri = pathToFileURL(input).href;
      const plan = await planOf(job, ["--input", inputUri, "--output", pathToFileURL(outDir).href], { [inputUri]: readFileSync(input).length });
      h.scheduler.authorize = (taskId) => taskId !== "text-1-denied";
      h.scheduler.launch(launchOf(job, plan, { taskId: "text-0", partition: 0 }));
      h.scheduler.launch(launchOf(job, plan, { taskId: "text-1-denied", partition: 1 }));
      const [ok, denied] = await Promise.all([finalUpdate("text-0"), finalUpdate("text-1-denied")]);
      expect(ok.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
      expect(readFileSync(join(outDir, "_temporary", "text-0", "part-00000"), "utf8")).toMatch(/^ALPHA\n/);
      expect(existsSync(join(outDir, "part-00000"))).toBe(false); // promoted only at job commit
      expect(ok.metrics!.inputBytes).toBeGreaterThan(0);
      expect(denied.failure!.kind).toBe(FailureKind.FAILURE_KIND_COMMIT_DENIED);
      expect(existsSync(join(outDir, "part-00001"))).toBe(false);
      expect(readdirSync(join(outDir, "_temporary"))).toEqual(["text-0"]);
      expect(h.scheduler.commitRequests).toEqual(expect.arrayContaining(["text-0", "text-1-denied"]));
    });

    it("links a staging:// part only after authorization", async () => {
      const staged = join(h.dir, "staged.txt");
      writeFileSync(staged, "one\ntwo\n");
      h.staging.addFile(staged, "inputs/staged.txt");
      const job = await bundleJob(h.dir, "upper2", TEXT_JOB.replace('"upper"', '"upper2"'));
      h.staging.addFile(job.bundlePath);
      const plan = await planOf(job, ["--input", "staging://inputs/staged.txt", "--output", "staging://results/run1"], { "staging://inputs/staged.txt": 8 });
      h.scheduler.authorize = (taskId) => taskId === "staged-0";
      h.scheduler.launch(launchOf(job, plan, { taskId: "staged-0", partition: 0 }));
      h.scheduler.launch(launchOf(job, plan, { taskId: "staged-1", partition: 1 }));
      const [ok, denied] = await Promise.all([finalUpdate("staged-0"), finalUpdate("staged-1")]);
      expect(ok.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
      expect(denied.failure!.kind).toBe(FailureKind.FAILURE_KIND_COMMIT_DENIED);
      // The authorized attempt names its part under _temporary (the scheduler promotes it at job commit); the denied one names nothing.
      const part = h.staging.blobs.get(h.staging.names.get("results/run1/_temporary/staged-0/part-00000")!)!;
      expect(new TextDecoder().decode(part)).toMatch(/^ONE\n/);
      expect([...h.staging.names.keys()].filter((name) => name.startsWith("results/run1/"))).toEqual(["results/run1/_temporary/staged-0/part-00000"]);
    });
  });
});
