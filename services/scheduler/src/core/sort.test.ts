import { describe, expect, it } from "vitest";
import { jobView } from "./index.js";
import { planStages } from "./planning.js";
import { cluster, eventsIn, finishStages, Harness, launchesIn } from "./testing/harness.js";
import { sortPlan } from "./testing/plans.js";
import type { TaskLaunch } from "./types.js";

const launchesOf = (h: Harness, stageId: number): TaskLaunch[] =>
  launchesIn(h.log).map((launch) => launch.task).filter((task) => task.stageId === stageId);

/** The harness's sample tasks return [partition] as their result. */
const expectedSamples = (mids: number) => Array.from({ length: mids }, (_, partition) => Uint8Array.of(partition));

describe("sort: a sample stage before the range-partitioned map stage", () => {
  it("plans the sample stage as the parent of the map stage it samples for", () => {
    const stages = planStages(sortPlan(3, 4, 2));
    expect(stages.map((stage) => [stage.stageId, stage.name, stage.datasetId, stage.parentStageIds, stage.shuffleReads, stage.shuffleWrite, stage.sampleFor])).toEqual([
      [0, "map at job.ts:2", 1, [], [], 0, undefined],
      [1, "sample for sortByKey at job.ts:4", 2, [0], [0], undefined, 1],
      [2, "reduceByKey at job.ts:3", 2, [0, 1], [0], 1, undefined],
      [3, "sortByKey at job.ts:4", 3, [2], [1], undefined, undefined],
    ]);
  });

  it("runs the sample, then hands its recorded result to every map launch, as a traced stage", () => {
    const h = cluster(2, 4);
    h.submit("j", sortPlan(3, 4, 2));
    finishStages(h, 0);
    expect(h.liveIds()).toEqual(["j.1.0.0.0", "j.1.0.1.0", "j.1.0.2.0", "j.1.0.3.0"]);
    const samples = launchesOf(h, 1);
    expect(samples.map((task) => [task.sampleFor, task.shuffleWrite, task.shuffleReads.map((read) => read.shuffleIndex)])).toEqual(
      new Array(4).fill([{ shuffleIndex: 1 }, undefined, [0]]),
    );
    finishStages(h, 1);
    const maps = launchesOf(h, 2);
    expect(maps).toHaveLength(4);
    for (const task of maps) {
      expect(task.sampleFor).toBeUndefined();
      expect(task.shuffleWrite).toMatchObject({ shuffleIndex: 1, numReducePartitions: 2, rangeSamples: expectedSamples(4) });
    }
    h.runAll();
    const view = jobView(h.state, "j")!;
    expect(view.status).toBe("succeeded");
    expect(view.stages.map((stage) => stage.name)).toContain("sample for sortByKey at job.ts:4");
    expect(eventsIn(h.log, "stageSubmitted").map((event) => [event.stageId, event.parentStageIds])).toEqual([[0, []], [1, [0]], [2, [0, 1]], [3, [2]]]);
    expect(h.log.filter((command) => command.type === "spanStart" && command.name.startsWith("stage 1.0 sample for"))).toHaveLength(1);
  });

  it("keeps the sample when map outputs are lost: recomputed map tasks get the same bytes, the sample never reruns", () => {
    const h = cluster(3, 4);
    h.submit("j", sortPlan(3, 4, 2));
    finishStages(h, 0, 1, 2);
    h.loseNode("n1");
    h.tick(200);
    h.runAll();
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
    const resubmitted = eventsIn(h.log, "stageResubmitted").map((event) => event.stageId);
    expect(resubmitted).not.toContain(1);
    expect(resubmitted).toContain(2);
    const maps = launchesOf(h, 2);
    expect(maps.length).toBeGreaterThan(4);
    for (const task of maps) expect(task.shuffleWrite!.rangeSamples).toEqual(expectedSamples(4));
    expect(launchesOf(h, 1)).toHaveLength(4);
  });

  it("replays to the same launches after a failover", () => {
    const h = cluster(2, 4);
    h.submit("j", sortPlan(3, 4, 2));
    finishStages(h, 0, 1);
    const replayed = new Harness();
    for (const { input, now } of h.inputs) {
      replayed.now = now;
      replayed.send(input);
    }
    expect(launchesOf(replayed, 2)).toEqual(launchesOf(h, 2));
    expect(h.state.jobs.get("j")!.stages[1]!.results).toEqual(replayed.state.jobs.get("j")!.stages[1]!.results);
  });
});
