import { describe, expect, it } from "vitest";
import { runSeeds, scenarioFor } from "./scenarios.js";
import { simulate } from "./sim.js";
import { threeStagePlan } from "../src/core/testing/plans.js";

const seeds = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** Violations, as the lines `npm run sim` prints, so a failure shows the seed to replay. */
function failures(summary: ReturnType<typeof runSeeds>): string[] {
  return [...summary.failing].flatMap(([seed, violations]) => [...violations.slice(0, 3), `replay: npm run sim -- --seed ${seed}`]);
}

describe("seeded simulation", () => {
  it("keeps every invariant over 600 seeds of mixed faults (node loss, decommission with speculative copies, exclusion, SIGSTOP, scheduler crash)", () => {
    const summary = runSeeds(seeds(1, 600));
    expect(failures(summary)).toEqual([]);
    expect(summary.succeeded).toBeGreaterThan(summary.runs * 0.9);
    // Stragglers on decommissioning nodes are raced: some copies win, some lose to their original.
    expect(summary.copies.won).toBeGreaterThan(10);
    expect(summary.copies.launched - summary.copies.won).toBeGreaterThan(10);
    // The persisted dataset is registered, and recomputed tasks after faults read it instead of computing it.
    expect(summary.cache.registeredAtEnd).toBeGreaterThan(600);
    expect(summary.cache.read).toBeGreaterThan(50);
    // The detached application's driver is placed again after crashes and lost executors; a stale one is stopped.
    expect(summary.drivers.placedAgain).toBeGreaterThan(300);
    expect(summary.drivers.stopped).toBeGreaterThan(0);
    // Warm-up seeds: a cached partition lost while a job skips the stages below it is recomputed from lineage.
    expect(summary.cache.lostMidJob).toBeGreaterThan(5);
    for (const kind of ["executorKill", "nodeLoss", "twoNodesLost", "corruptBlock", "sigstop", "decommission", "schedulerCrash", "cacheEviction"] as const) {
      expect(summary.faults[kind] ?? 0, kind).toBeGreaterThan(50);
    }
  }, 180_000); // pure CPU: 600 seeds take ~25 s alone, longer beside the e2e tests on two cores

  it("aborts with a stated cause when user code keeps failing", () => {
    const summary = runSeeds(seeds(1, 40), (seed) => ({ ...scenarioFor(seed), userErrorRate: 0.6, badNode: false, mustSucceed: false }));
    expect(failures(summary)).toEqual([]);
    expect(summary.failed).toBeGreaterThan(0);
  });

  it("finishes jobs on a cluster with a node whose tasks always fail, by excluding it", () => {
    const summary = runSeeds(seeds(1000, 40), (seed) => ({ seed, plan: threeStagePlan(12, 8, 4), nodes: 4, faults: 0, badNode: true, mustSucceed: true }));
    expect(failures(summary)).toEqual([]);
  });

  it("reproduces a seed exactly", () => {
    const first = simulate(scenarioFor(7));
    expect(first.faultsInjected).toBeGreaterThan(0);
    expect(simulate(scenarioFor(7)).commands).toEqual(first.commands);
  });
});
