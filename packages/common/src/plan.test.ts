import { describe, expect, it } from "vitest";
import { LIMITS } from "./limits.js";
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

  it("bounds size and depth, and finds cycles without recursion", () => {
    const chain = (n: number) => Array.from({ length: n }, (_, i) => ({ ...plan().datasets[0]!, id: i, parentIds: i ? [i - 1] : [] }));
    expect(planProblem(plan({ datasets: chain(LIMITS.planDepth), shuffles: [], finalDatasetId: LIMITS.planDepth - 1 }))).toBeUndefined();
    expect(planProblem(plan({ datasets: chain(LIMITS.planDepth + 1), shuffles: [], finalDatasetId: LIMITS.planDepth }))).toMatch(/1001 datasets deep/);
    const cyclic = chain(LIMITS.datasets).map((d, i) => (i === 0 ? { ...d, parentIds: [LIMITS.datasets - 1] } : d));
    expect(planProblem(plan({ datasets: cyclic, shuffles: [], finalDatasetId: 0 }))).toMatch(/cycle/);
    expect(planProblem(plan({ datasets: chain(LIMITS.datasets + 1), shuffles: [], finalDatasetId: 0 }))).toMatch(/at most 10000/);
    expect(planProblem(plan({ jobName: "a\nb" }))).toMatch(/control character/);
    // Each pinned input rides in the job's staging token.
    const inputs = (n: number) => Array.from({ length: n }, (_, i) => ({ uri: `staging://in-${i}`, size: 1, sha256: "a".repeat(64) }));
    expect(planProblem(plan({ inputs: inputs(LIMITS.inputs) }))).toBeUndefined();
    expect(planProblem(plan({ inputs: inputs(LIMITS.inputs + 1) }))).toMatch(/257 input files; at most 256/);
  });

  it("names structural problems", () => {
    expect(planProblem(plan({ datasets: [] }))).toMatch(/no datasets/);
    expect(planProblem(plan({ finalDatasetId: 7 }))).toMatch(/final dataset 7/);
    // Its commit replaces what is under the prefix: no prefix would be the submitter's whole space.
    for (const outputUri of ["staging://", "staging:///"]) expect(planProblem(plan({ outputUri }))).toMatch(/needs a name to write under/);
    expect(planProblem(plan({ outputUri: "staging://out" }))).toBeUndefined();
    expect(planProblem(plan({ shuffles: [{ shuffleIndex: 0, parentDatasetId: 0, childDatasetId: 1, numReducePartitions: 4 }] }))).toMatch(/4 reduce partitions/);
  });
});
