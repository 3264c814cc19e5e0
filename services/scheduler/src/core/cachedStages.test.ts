import { describe, expect, it } from "vitest";
import { jobView } from "./index.js";
import { APP, answer, cluster, persisted, runKeeping, submitAction } from "./testing/cached.js";
import { launchesIn } from "./testing/harness.js";
import { twoStagePlan } from "./testing/plans.js";

/** twoStagePlan(4 maps, 2 results) with its reduceByKey output (dataset 2, read by the result stage) persisted. */
const reducedPlan = (level: "memory" | "disk" | "memory_and_disk") => persisted(twoStagePlan(4, 2), level, 2);

describe("stages skipped below cached datasets", () => {
  for (const level of ["memory", "disk", "memory_and_disk"] as const) {
    it(`a later action over a dataset wholly cached (${level}) runs no stage below it`, () => {
      const h = cluster();
      submitAction(h, "a1", reducedPlan(level));
      runKeeping(h);
      const second = submitAction(h, "a2", reducedPlan(level));
      // The full graph is planned; only the stage reading the cache runs.
      expect(jobView(h.state, "a2")!.stages.map((stage) => stage.name)).toEqual(["map at job.ts:2", "reduceByKey at job.ts:3"]);
      expect(launchesIn(second).map(({ task }) => [task.stageId, task.partition, task.shuffleReads[0]!.locations.length])).toEqual([[1, 0, 0], [1, 1, 0]]);
      runKeeping(h);
      expect(jobView(h.state, "a2")).toMatchObject({ status: "succeeded", stats: { cachedPartitionsRead: 2, tasksLaunched: 2 } });
    });
  }

  it("a memory partition lost with its executor mid-job: the skipped stage runs, then only that partition is computed", () => {
    const h = cluster();
    submitAction(h, "a1", reducedPlan("memory"));
    runKeeping(h);
    submitAction(h, "a2", reducedPlan("memory"));
    const [read, lost] = [...h.live.values()].sort((a, b) => a.task.partition - b.task.partition);
    answer(h, read!.task.taskId); // partition 0 read from the cache
    const before = h.log.length;
    h.loseExecutor(lost!.executorId); // the holder of partition 1 dies while its task runs
    const relaunched = launchesIn(h.log.slice(before));
    // The map stage, skipped until now, fills e2's two slots; partition 1 waits for it.
    expect(relaunched.map(({ executorId, task }) => [executorId, task.stageId])).toEqual([[read!.executorId, 0], [read!.executorId, 0]]);
    runKeeping(h);
    const view = jobView(h.state, "a2")!;
    expect(view).toMatchObject({ status: "succeeded", stats: { cachedPartitionsRead: 1, tasksLaunched: 2 + 4 + 1 } });
    expect(h.state.cache.get(`${APP}/ds2`)!.size).toBe(2); // the recomputed partition is kept again
  });

  it("a cached partition a task cannot read (FetchFailed of its pseudo shuffle) leaves the registry and is computed from lineage", () => {
    const h = cluster();
    submitAction(h, "a1", reducedPlan("disk"));
    runKeeping(h);
    submitAction(h, "a2", reducedPlan("disk"));
    const victim = [...h.live.values()].find(({ task }) => task.partition === 1)!;
    const location = victim.task.cachedPartitions![0]!;
    h.fail(victim.task.taskId, {
      kind: "fetchFailed",
      message: "block missing",
      fetch: { shuffleId: `cache-${APP}-ds2`, mapIndex: 1, mapAttempt: 0, shuffleAddress: location.diskShuffleAddress, nodeId: "", serviceUnreachable: false },
    });
    expect(h.state.cache.get(`${APP}/ds2`)!.has(1)).toBe(false);
    expect(h.liveIds(0)).toHaveLength(3); // the map stage runs now (the slots partition 0 leaves); the failed partition waits for it
    expect(h.liveIds(1).map((id) => h.live.get(id)!.task.partition)).toEqual([0]);
    runKeeping(h);
    const view = jobView(h.state, "a2")!;
    expect(view).toMatchObject({ status: "succeeded", stats: { cachedPartitionsRead: 1, tasksLaunched: 2 + 4 + 1 } });
  });

  it("a task whose partition is only in a busy executor's memory waits for that executor instead of running elsewhere", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(twoStagePlan(4, 4), "memory", 2));
    runKeeping(h);
    const holders = new Map([...h.state.cache.get(`${APP}/ds2`)!].map(([partition, entry]) => [partition, entry.memoryExecutorId]));
    h.submit("other", twoStagePlan(4, 1)); // a plain job fills all four slots
    expect(launchesIn(submitAction(h, "a2", persisted(twoStagePlan(4, 4), "memory", 2)))).toEqual([]);
    const freed = [...h.live.values()].find(({ executorId }) => executorId === "e1")!;
    const launched = launchesIn(h.succeed(freed.task.taskId));
    // e1's free slot takes a partition e1 holds; the ones only e2 holds wait for e2.
    expect(launched).toHaveLength(1);
    expect(launched.map(({ executorId, task }) => [executorId, holders.get(task.partition)])).toEqual([["e1", "e1"]]);
  });
});
