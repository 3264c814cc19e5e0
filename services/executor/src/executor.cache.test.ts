import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Packr } from "msgpackr";
import { TaskState } from "@ballast/gen/common";
import { FailureKind, type LaunchTask, type TaskUpdate } from "@ballast/gen/scheduler";
import { shuffleIdOf, type Plan } from "@ballast/common/plan";
import { waitFor } from "./testing/fakeScheduler.js";
import { JOB_ID, launchOf, startHarness, type Harness } from "./testing/harness.js";
import { bundleJob, planOf, type BundledJob } from "./testing/jobs.js";

// Tasks of an application's job whose stages below a persisted dataset were
// skipped (the shuffle it reads has no map outputs in the launch): a cached
// partition the executor holds is read and no shuffle is fetched; one it
// cannot read fails the task as a FetchFailed of the dataset's pseudo shuffle.

const APP = "app-cache";
const unpack = (bytes: Uint8Array) => new Packr({ useRecords: false }).unpack(bytes);

const COUNTS_JOB = `import { job } from "ballast";
export default job("counts", (ctx) =>
  ctx.range(10, 2).map((x) => [x % 3, 1] as const).reduceByKey((a, b) => a + b, { partitions: 2 }).persist("memory").collect());
`;

describe("executor reads of cached partitions below skipped stages", () => {
  let h: Harness;
  let job: BundledJob;
  let plan: Plan;
  let cacheKey: string;
  beforeAll(async () => {
    h = await startHarness();
    job = await bundleJob(h.dir, "counts", COUNTS_JOB);
    h.staging.addFile(job.bundlePath);
    plan = await planOf(job);
    cacheKey = plan.datasets.find((dataset) => dataset.cacheKey)!.cacheKey!;
  });
  afterAll(() => h.stop());

  const finalUpdate = (taskId: string): Promise<TaskUpdate> =>
    waitFor(`final update of ${taskId}`, () => h.scheduler.updatesFor(taskId).find((u) => u.state !== TaskState.TASK_STATE_RUNNING));
  /** The reduce side's launch in an application, reading a shuffle with the given locations. */
  const reduceLaunch = (taskId: string, locations: LaunchTask["shuffleReads"][number]["locations"], cachedPartitions: LaunchTask["cachedPartitions"] = [], partition = 0): LaunchTask => ({
    ...launchOf(job, plan, { taskId, partition, shuffleReads: [{ shuffleIndex: 0, shuffleId: shuffleIdOf(JOB_ID, 0), numMaps: 2, locations }] }),
    applicationId: APP,
    cachedPartitions,
  });

  it("reads a partition it holds in memory without fetching the skipped shuffle, and fails one it cannot read as a FetchFailed of the cached partition", async () => {
    // First action: maps, then the reduce computes partition 0 of the persisted counts and keeps it in memory.
    for (const partition of [0, 1]) {
      const shuffleWrite = { shuffleIndex: 0, numReducePartitions: 2 };
      h.scheduler.launch({ ...launchOf(job, plan, { taskId: `map-${partition}`, partition, datasetId: plan.shuffles[0]!.parentDatasetId, shuffleWrite }), applicationId: APP });
    }
    const maps = await Promise.all([finalUpdate("map-0"), finalUpdate("map-1")]);
    const locations = maps.map((u) => ({ mapIndex: u.mapStatus!.mapIndex, attempt: 0, shuffleAddress: u.mapStatus!.shuffleAddress, nodeId: "node-1" }));
    h.scheduler.launch(reduceLaunch("reduce-first", locations));
    const first = await finalUpdate("reduce-first");
    expect(first.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(first.cachedWrites).toMatchObject([{ cacheKey, partition: 0, inMemory: true }]);

    // Later action: the map stage skipped (no locations), the copy offered in this executor's memory.
    const executorId = h.scheduler.registrations[0]!.executorId;
    h.scheduler.launch(reduceLaunch("reduce-cached", [], [{ cacheKey, partition: 0, memoryExecutorId: executorId, diskShuffleAddress: "" }]));
    const cached = await finalUpdate("reduce-cached");
    expect(cached.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(cached.metrics!.cachedPartitionsRead).toBe(1);
    expect(cached.metrics!.shuffleBytesRead).toBe(0);
    expect(unpack(cached.result!.records)).toEqual(unpack(first.result!.records));

    // Partition 1 is in another executor's memory: it cannot be read here, and nothing below it was run.
    h.scheduler.launch(reduceLaunch("reduce-elsewhere", [], [{ cacheKey, partition: 1, memoryExecutorId: "node-2-exec-9", diskShuffleAddress: "" }], 1));
    const elsewhere = await finalUpdate("reduce-elsewhere");
    expect(elsewhere.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(elsewhere.failure!.kind).toBe(FailureKind.FAILURE_KIND_FETCH_FAILED);
    expect(elsewhere.failure!.fetch).toMatchObject({ shuffleId: `cache-${APP}-${cacheKey}`, mapIndex: 1, serviceUnreachable: false });
    expect(elsewhere.failure!.error!.message).toContain("in the memory of executor node-2-exec-9");
  });
});
