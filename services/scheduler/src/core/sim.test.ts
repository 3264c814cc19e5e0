import { describe, expect, it } from "vitest";
import { simulate, type SimOptions } from "./testing/sim.js";
import { diamondPlan, joinPlan, threeStagePlan, twoStagePlan } from "./testing/plans.js";

const SEEDS = Array.from({ length: 60 }, (_, i) => i + 1);

function runSeeds(options: Omit<SimOptions, "seed">): { succeeded: number; failed: number; violations: string[] } {
  let succeeded = 0;
  let failed = 0;
  const violations: string[] = [];
  for (const seed of SEEDS) {
    const result = simulate({ ...options, seed });
    violations.push(...result.violations);
    if (result.view.status === "succeeded") succeeded++;
    else failed++;
  }
  return { succeeded, failed, violations };
}

describe("seeded simulation", () => {
  it("survives executor deaths, node losses and corrupt blocks on a 3-stage job", () => {
    const outcome = runSeeds({ plan: threeStagePlan(6, 4, 3), faults: 4 });
    expect(outcome.violations).toEqual([]);
    expect(outcome.succeeded).toBeGreaterThan(SEEDS.length * 0.8);
  });

  it("keeps commits exactly-once and joins and diamonds correct under faults", () => {
    expect(runSeeds({ plan: twoStagePlan(5, 4, "saveAsTextFile"), faults: 3 }).violations).toEqual([]);
    expect(runSeeds({ plan: joinPlan(4, 3, 3), faults: 3, nodes: 4 }).violations).toEqual([]);
    expect(runSeeds({ plan: diamondPlan(4, 3, 2), faults: 4 }).violations).toEqual([]);
  });

  it("aborts with a stated cause when failures persist", () => {
    const outcome = runSeeds({ plan: threeStagePlan(4, 3, 2), faults: 2, userErrorRate: 0.5 });
    expect(outcome.violations).toEqual([]);
    expect(outcome.failed).toBeGreaterThan(0);
  });

  it("reproduces a seed exactly", () => {
    const options = { plan: threeStagePlan(6, 4, 3), faults: 5, seed: 7 };
    const first = simulate(options);
    expect(first.faultsInjected).toBeGreaterThan(0);
    expect(simulate(options).commands).toEqual(first.commands);
  });
});
