import { describe, expect, it } from "vitest";
import { job } from "./index.js";
import type { JobContext } from "./context.js";
import type { ActionResult } from "./types.js";
import { runLocal, type LocalRunOptions } from "./testing/localRunner.js";
import { compareSortKeys } from "./runtime/sortOrder.js";
import { KeySampler, rangeBounds, rangeIndex } from "./runtime/rangePartitioner.js";

function run(build: (ctx: JobContext) => ActionResult, options: LocalRunOptions = {}) {
  return runLocal(job("sort", build), options);
}

/** Sorting is deterministic: both task orders give exactly the same records. */
function collectSorted(build: (ctx: JobContext) => ActionResult): unknown[] {
  const forward = run(build).records!;
  expect(run(build, { reverseTaskOrder: true }).records).toEqual(forward);
  return forward;
}

function shuffledNumbers(n: number, seed: number): number[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  return Array.from({ length: n }, () => next() % 1_000_000);
}

describe("sortBy and sortByKey", () => {
  it("sortBy sorts globally over range-partitioned reduce partitions", () => {
    const data = shuffledNumbers(20_000, 7);
    const result = run((ctx) => ctx.parallelize(data, 5).sortBy((x) => x, { partitions: 4 }).saveAsTextFile("staging://o"));
    expect(result.plan.shuffles).toEqual([expect.objectContaining({ rangePartitioned: true, numReducePartitions: 4 })]);
    const parts = result.textParts!.map((text) => text.split("\n").filter(Boolean).map(Number));
    expect(parts.flat()).toEqual([...data].sort((a, b) => a - b));
    // The sample balances the ranges: no part holds more than twice its share.
    for (const part of parts) expect(part.length).toBeLessThan((2 * data.length) / 4);
    const collected = collectSorted((ctx) => ctx.parallelize(data, 5).sortBy((x) => x, { partitions: 4 }).collect());
    expect(collected).toEqual(parts.flat());
  });

  it("sorts a large text file from a sample of windows of its splits: complete, ordered and balanced", () => {
    // 8 MB in 2 splits, large enough that the sample reads windows, not whole splits.
    const keys = shuffledNumbers(400_000, 11).map((n) => String(n).padStart(7, "0"));
    const text = keys.map((key, i) => `${key} ${"p".repeat(i % 23)}`).join("\n") + "\n";
    const result = run((ctx) => ctx.textFile("staging://in", { minPartitions: 2 }).sortBy((line) => line.slice(0, 7), { partitions: 4 }).saveAsTextFile("staging://o"), {
      files: { "staging://in": text },
    });
    const parts = result.textParts!.map((part) => part.split("\n").filter(Boolean).map((line) => line.slice(0, 7)));
    expect(parts.flat()).toEqual([...keys].sort());
    for (const part of parts) expect(part.length).toBeLessThan((2 * keys.length) / 4);
  });

  it("sorts descending and by a derived key", () => {
    const words = ["kiwi", "fig", "banana", "apple", "date", "cherry", "elderberry"];
    const byLength = collectSorted((ctx) =>
      ctx.parallelize(words, 3).sortBy((w) => [w.length, w], { ascending: false, partitions: 2 }).collect(),
    );
    expect(byLength).toEqual(["elderberry", "cherry", "banana", "apple", "kiwi", "date", "fig"]);
  });

  it("sortByKey keeps equal keys in input order (by input partition, then position)", () => {
    const pairs = [[2, "a"], [1, "b"], [2, "c"], [1, "d"], [3, "e"], [1, "f"]] as const;
    const records = collectSorted((ctx) => ctx.parallelize(pairs, 3).sortByKey({ partitions: 2 }).collect());
    expect(records).toEqual([[1, "b"], [1, "d"], [1, "f"], [2, "a"], [2, "c"], [3, "e"]]);
  });

  it("orders mixed key types by one total order", () => {
    const keys = ["b", [1, "x"], 2n, null, 1.5, true, "a", [1], false, -3, [0, "z"], 2];
    const records = collectSorted((ctx) => ctx.parallelize(keys, 4).sortBy((k) => k, { partitions: 3 }).collect());
    expect(records).toEqual([null, false, true, -3, 1.5, 2, 2n, "a", "b", [0, "z"], [1], [1, "x"]]);
  });

  it("writes sorted lines as their bytes exactly as it writes formatted records", () => {
    const lines = ["zeta é", "日本語 key", "alpha", "lone \ud800 surrogate", "\ud83d\ude00 emoji", "beta\ttab", "", "alpha"];
    // Enough records with ASCII keys that the entries sort where they lie (their prefixes pack); values of any text.
    const data = Array.from({ length: 6000 }, (_, i) => `k${(i * 7) % 13} ${lines[i % lines.length]}`);
    const save = (through: (sorted: ReturnType<JobContext["parallelize"]>) => ReturnType<JobContext["parallelize"]>) =>
      run((ctx) => through(ctx.parallelize(data, 3).sortBy((line) => line.slice(0, 3), { partitions: 3 })).saveAsTextFile("staging://o")).textParts!;
    const asBytes = save((sorted) => sorted);
    // A map after the sort takes the string path: same text, byte for byte.
    expect(asBytes).toEqual(save((sorted) => sorted.map((line) => line)));
    const sorted = data.map((line, i) => [line.slice(0, 3), i, line] as const).sort((a, b) => compareSortKeys(a[0], b[0]) || a[1] - b[1]);
    expect(asBytes.join("")).toEqual(sorted.map((entry) => `${Buffer.from(entry[2]).toString()}\n`).join(""));
  });

  it("writes text of records that are not all strings in order", () => {
    const data = ["b", 3, "a", [1, 2], "c", 1];
    const parts = run((ctx) => ctx.parallelize(data, 2).sortBy((x) => String(x), { partitions: 1 }).saveAsTextFile("staging://o")).textParts!;
    expect(parts).toEqual(["1\n1\t2\n3\na\nb\nc\n"]);
  });

  it("sorts an empty dataset and a single partition", () => {
    expect(run((ctx) => ctx.parallelize([] as number[], 2).sortBy((x) => x).collect()).records).toEqual([]);
    expect(run((ctx) => ctx.parallelize([3, 1, 2], 2).sortBy((x) => x, { partitions: 1 }).collect()).records).toEqual([1, 2, 3]);
  });

  it("refuses keys without an order, and bad options, with clear errors", () => {
    expect(() => run((ctx) => ctx.range(3).sortBy((i) => ({ i })).collect())).toThrow(
      /sortBy: cannot sort by an object \(\{"i":0\}\); sort keys must be strings, numbers/,
    );
    expect(() => run((ctx) => ctx.range(3).sortBy(() => undefined).collect())).toThrow(/cannot sort by undefined/);
    expect(() => run((ctx) => ctx.range(3).sortBy((i) => [i, NaN]).collect())).toThrow(/an array holding NaN/);
    expect(() => run((ctx) => ctx.range(3).map((i) => [{}, i] as const).sortByKey().collect())).toThrow(/sortByKey: cannot sort by an object/);
    expect(() => run((ctx) => ctx.range(3).sortBy(42 as never).collect())).toThrow(/sortBy expects a function/);
    expect(() => run((ctx) => ctx.range(3).sortBy((i) => i, { ascending: "no" as never }).collect())).toThrow(/ascending must be a boolean/);
  });
});

describe("range partitioner", () => {
  it("derives the same bounds from the same samples, weighted by partition size", () => {
    const sample = (keys: number[], seed: number, size = 100) => {
      const sampler = new KeySampler(size, seed);
      for (const key of keys) sampler.add(key);
      return sampler.finish(1);
    };
    // A big partition of high keys and a small one of low keys: bounds follow the records, not the samples.
    const samples = [sample(Array.from({ length: 10 }, (_, i) => i), 0), sample(Array.from({ length: 10_000 }, (_, i) => 1000 + i), 1)];
    const bounds = rangeBounds(samples, 4, compareSortKeys);
    expect(rangeBounds(samples, 4, compareSortKeys)).toEqual(bounds);
    expect(bounds).toHaveLength(3);
    expect((bounds as number[]).every((bound) => bound >= 1000)).toBe(true);
    expect(sample([5, 6, 7, 8, 9, 10], 3, 2)).toEqual(sample([5, 6, 7, 8, 9, 10], 3, 2));
  });

  it("sends keys equal to a bound with it, and below the first bound to partition 0", () => {
    expect([0, 10, 11, 20, 25, 99].map((key) => rangeIndex([10, 20], key, compareSortKeys))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(rangeIndex([], "x", compareSortKeys)).toBe(0);
  });
});
