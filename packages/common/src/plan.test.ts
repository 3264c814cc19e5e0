import { describe, expect, it } from "vitest";
import { planProblem, type Plan } from "./plan.js";

const plan = (overrides: Partial<Plan> = {}): Plan => ({
  jobName: "j",
  datasets: [
    { id: 0, op: "range", parentIds: [], numPartitions: 2, wide: false, callSite: "j.ts:1", uri: "" },
    { id: 1, op: "reduceByKey", parentIds: [0], numPartitions: 3, wide: true, callSite: "j.ts:2", uri: "" },
  ],
  shuffles: [{ shuffleIndex: 0, parentDatasetId: 0, childDatasetId: 1, numReducePartitions: 3 }],
  finalDatasetId: 1,
  action: "collect",
  outputUri: "",
  args: [],
  inputs: [],
  graphHash: "abc",
  ...overrides,
});

describe("planProblem", () => {
  it("accepts a well-formed plan under both rule sets", () => {
    expect(planProblem(plan())).toBeUndefined();
    expect(planProblem(plan(), { builtBySdk: true })).toBeUndefined();
  });

  it("asks more of a plan that crossed the wire: a graph hash and partitions everywhere", () => {
    const empty = plan({ datasets: [{ ...plan().datasets[0]!, numPartitions: 0 }], shuffles: [], finalDatasetId: 0 });
    expect(planProblem(empty)).toBeUndefined();
    expect(planProblem(empty, { builtBySdk: true })).toMatch(/dataset 0 has no partitions/);
    expect(planProblem(plan({ graphHash: "" }))).toBeUndefined();
    expect(planProblem(plan({ graphHash: "" }), { builtBySdk: true })).toMatch(/no graph hash/);
  });

  it("names structural problems", () => {
    expect(planProblem(plan({ datasets: [] }))).toMatch(/no datasets/);
    expect(planProblem(plan({ finalDatasetId: 7 }))).toMatch(/final dataset 7/);
    expect(planProblem(plan({ shuffles: [{ shuffleIndex: 0, parentDatasetId: 0, childDatasetId: 1, numReducePartitions: 4 }] }))).toMatch(/4 reduce partitions/);
  });
});
