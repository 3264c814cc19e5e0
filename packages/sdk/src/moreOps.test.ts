import { describe, expect, it } from "vitest";
import { job } from "./index.js";
import type { JobContext } from "./context.js";
import type { ActionResult } from "./types.js";
import { runLocal } from "./testing/localRunner.js";

/** Collects with both task orders and returns the forward records, sorted for comparison. */
function collect(build: (ctx: JobContext) => ActionResult): unknown[] {
  const sorted = (records: unknown[]) => records.map((r) => JSON.stringify(r)).sort().map((s) => JSON.parse(s) as unknown);
  const forward = runLocal(job("ops", build)).records!;
  const reverse = runLocal(job("ops", build), { reverseTaskOrder: true }).records!;
  expect(sorted(reverse)).toEqual(sorted(forward));
  return sorted(forward);
}

const left = [["a", 1], ["b", 2], ["a", 3]] as const;
const right = [["a", "x"], ["c", "y"]] as const;

describe("more operations", () => {
  it("cogroup groups both sides' values by key", () => {
    const records = collect((ctx) => ctx.parallelize(left, 2).cogroup(ctx.parallelize(right, 1)).collect());
    expect(records).toEqual([["a", [[1, 3], ["x"]]], ["b", [[2], []]], ["c", [[], ["y"]]]]);
  });

  it("fullOuterJoin keeps keys of either side, null where one is missing", () => {
    const records = collect((ctx) => ctx.parallelize(left, 2).fullOuterJoin(ctx.parallelize(right, 1)).collect());
    expect(records).toEqual([["a", [1, "x"]], ["a", [3, "x"]], ["b", [2, null]], ["c", [null, "y"]]]);
  });

  it("repartition balances records of any type", () => {
    const run = runLocal(job("r", (ctx) => ctx.range(100, 1).repartition(4).collect()));
    expect(run.plan.datasets.at(-1)!.numPartitions).toBe(4);
    expect([...(run.records as number[])].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("coalesce lowers the partition count and keeps a dataset asked for more", () => {
    const fewer = runLocal(job("c", (ctx) => ctx.range(10, 5).coalesce(2).count()));
    expect(fewer.count).toBe(10);
    expect(fewer.plan.datasets.at(-1)!.numPartitions).toBe(2);
    const same = runLocal(job("c", (ctx) => ctx.range(10, 5).coalesce(8).count()));
    expect(same.plan.datasets).toHaveLength(1);
  });

  it("sample keeps the same records for the same seed, about fraction of them", () => {
    const sample = (seed: number) => collect((ctx) => ctx.range(2000, 4).sample(0.25, seed).collect());
    expect(sample(7)).toEqual(sample(7));
    expect(sample(7)).not.toEqual(sample(8));
    expect(sample(7).length).toBeGreaterThan(400);
    expect(sample(7).length).toBeLessThan(600);
    expect(() => runLocal(job("s", (ctx) => ctx.range(3).sample(2).count()))).toThrow("sample: fraction must be a number from 0 to 1, got 2");
  });
});
