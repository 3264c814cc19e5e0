import { describe, expect, it } from "vitest";
import { planProblem, planStages } from "./planning.js";
import { dataset, joinPlan, planOf, singleStagePlan, threeStagePlan } from "./testing/plans.js";

describe("planStages", () => {
  it("splits a chain at its shuffles, parents first", () => {
    const stages = planStages(threeStagePlan(4, 3, 2));
    expect(stages).toEqual([
      { stageId: 0, datasetId: 1, name: "flatMap at job.ts:2", numPartitions: 4, parentStageIds: [], shuffleReads: [], shuffleWrite: 0 },
      { stageId: 1, datasetId: 3, name: "map at job.ts:4", numPartitions: 3, parentStageIds: [0], shuffleReads: [0], shuffleWrite: 1 },
      { stageId: 2, datasetId: 4, name: "groupByKey at job.ts:5", numPartitions: 2, parentStageIds: [1], shuffleReads: [1], shuffleWrite: undefined },
    ]);
  });

  it("gives a join one map stage per side and a result stage reading both", () => {
    const stages = planStages(joinPlan(3, 2, 2));
    expect(stages.map((stage) => [stage.stageId, stage.datasetId, stage.numPartitions, stage.parentStageIds, stage.shuffleReads])).toEqual([
      [0, 1, 3, [], []],
      [1, 3, 2, [], []],
      [2, 5, 2, [0, 1], [0, 1]],
    ]);
  });

  it("makes a single result stage when there is no shuffle", () => {
    expect(planStages(singleStagePlan(5))).toHaveLength(1);
  });
});

describe("planProblem", () => {
  it("accepts well-formed plans", () => {
    expect(planProblem(threeStagePlan())).toBeUndefined();
    expect(planProblem(joinPlan())).toBeUndefined();
  });

  it("names what is wrong", () => {
    expect(planProblem(planOf([dataset(0, "range", [], 2)], [], 7))).toMatch(/final dataset 7/);
    expect(planProblem(planOf([dataset(0, "map", [3], 2)], [], 0))).toMatch(/unknown parent 3/);
    expect(planProblem(planOf([dataset(0, "map", [1], 2), dataset(1, "map", [0], 2)], [], 0))).toMatch(/cycle/);
    const badReduce = planOf(
      [dataset(0, "range", [], 2), dataset(1, "reduceByKey", [0], 3, true)],
      [{ shuffleIndex: 0, parentDatasetId: 0, childDatasetId: 1, numReducePartitions: 4 }],
      1,
    );
    expect(planProblem(badReduce)).toMatch(/4 reduce partitions/);
    expect(planProblem(planOf([], [], 0))).toMatch(/plan has no datasets/);
  });

  it("takes hand-built plans (the shared validator's default rules): empty datasets, no graph hash", () => {
    expect(planProblem(singleStagePlan(0))).toBeUndefined();
    expect(planProblem({ ...singleStagePlan(2), graphHash: "" })).toBeUndefined();
  });
});
