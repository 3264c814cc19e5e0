import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { job } from "../index.js";
import type { JobContext } from "../context.js";
import type { ActionResult, SpillSpace } from "../types.js";
import { runLocal } from "../testing/localRunner.js";
import { kWayMerge } from "./kWayMerge.js";
import { ExternalSorter } from "./externalSort.js";
import { SpillingKeyedMerge } from "./spillingKeyedMerge.js";

let dir: string;
let spills: number[];
let space: SpillSpace;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-spill-"));
  spills = [];
  space = { memoryLimit: 4 * 1024, dir, onSpill: (bytes) => spills.push(bytes) };
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function words(n: number, distinct: number, seed = 1): string[] {
  let state = seed;
  return Array.from({ length: n }, () => `w${(state = (Math.imul(state, 1664525) + 1013904223) >>> 0) % distinct}`);
}

/** Collects a job in memory and with a tiny budget; the results must agree (up to order where the op has none). */
function bothWays(build: (ctx: JobContext) => ActionResult, { ordered = false } = {}): unknown[] {
  const inMemory = runLocal(job("mem", build)).records!;
  const spilled = runLocal(job("spill", build), { spill: space }).records!;
  expect(spills.length).toBeGreaterThan(2);
  expect(readdirSync(dir)).toEqual([]);
  const canonical = (records: unknown[]) => (ordered ? records : records.map((r) => JSON.stringify(r)).sort());
  expect(canonical(spilled)).toEqual(canonical(inMemory));
  return spilled;
}

describe("kWayMerge", () => {
  it("merges sorted sources, equal items in source order", () => {
    const sources = [[1, 3, 5], [], [1, 2, 6], [3]].map((items, source) => items.map((n) => ({ n, source }))[Symbol.iterator]());
    const merged = [...kWayMerge(sources, (a, b) => a.n - b.n)];
    expect(merged.map((x) => `${x.n}/${x.source}`)).toEqual(["1/0", "1/2", "2/2", "3/0", "3/3", "5/0", "6/2"]);
  });
});

describe("spilling reduce-side operators", () => {
  it("ExternalSorter sorts stably across runs and removes them", () => {
    const sorter = new ExternalSorter<[number, number]>((a, b) => a[0] - b[0], space);
    const input = Array.from({ length: 5000 }, (_, i): [number, number] => [(i * 7919) % 100, i]);
    for (const pair of input) sorter.add(pair);
    const out: [number, number][] = [];
    sorter.forEach((pair) => out.push(pair));
    expect(spills.length).toBeGreaterThan(2);
    expect(out).toEqual([...input].sort((a, b) => a[0] - b[0]));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("SpillingKeyedMerge keeps group values in input order and handles composite and mixed keys", () => {
    const groups = new SpillingKeyedMerge<unknown[]>(
      { create: (v) => [v], merge: (c, v) => (c.push(v), c), combine: (a, b) => a.concat(b), growsPerValue: true },
      space,
    );
    const keys: unknown[] = [1, "1", [1, "a"], { b: 2, a: 1 }, null, true, 2n, -0];
    for (let i = 0; i < 3000; i++) groups.add(i % 2 === 0 ? keys[(i / 2) % keys.length] : `k${i % 97}`, i);
    groups.add({ a: 1, b: 2 }, "same object key, other field order");
    const got = new Map<string, unknown[]>();
    groups.forEach((key, values) => got.set(typeof key === "bigint" ? `${key}n` : JSON.stringify(key), values));
    expect(spills.length).toBeGreaterThan(2);
    expect(got.get("1")).toEqual(Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 16 === 0));
    expect(got.get(JSON.stringify({ b: 2, a: 1 }))?.at(-1)).toBe("same object key, other field order");
    expect(got.get("0")).toHaveLength(187); // -0 (one key with 0): every i with i / 2 = 7 (mod 8)
    expect(got.size).toBe(keys.length + 97);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("groupByKey", () => {
    const data = words(20_000, 300).map((w, i) => [w, i] as const);
    const groups = bothWays((ctx) => ctx.parallelize(data, 4).groupByKey({ partitions: 3 }).collect()) as [string, number[]][];
    // Values of a group keep fetch order (map index, then position): ascending here.
    for (const [, values] of groups) expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it("reduceByKey, aggregateByKey and distinct", () => {
    const data = words(20_000, 2_000).map((w) => [w, 1] as const);
    bothWays((ctx) => ctx.parallelize(data, 4).reduceByKey((a, b) => a + b, { partitions: 2 }).collect());
    spills = [];
    bothWays((ctx) => ctx.parallelize(data, 4).aggregateByKey({ n: 0 }, (acc, v) => ({ n: acc.n + v }), (a, b) => ({ n: a.n + b.n })).collect());
    spills = [];
    bothWays((ctx) => ctx.parallelize(words(20_000, 5_000), 4).distinct().collect());
  });

  it("join and leftOuterJoin", () => {
    const left = words(3_000, 500, 3).map((w, i) => [w, i] as const);
    const right = words(3_000, 700, 4).map((w, i) => [w, `r${i}`] as const);
    bothWays((ctx) => ctx.parallelize(left, 3).join(ctx.parallelize(right, 2), { partitions: 2 }).collect());
    spills = [];
    bothWays((ctx) => ctx.parallelize(left, 3).leftOuterJoin(ctx.parallelize(right, 2)).collect());
  });

  it("sortBy and sortByKey give exactly the in-memory order", () => {
    const data = words(20_000, 3_000).map((w, i) => [w, i] as const);
    bothWays((ctx) => ctx.parallelize(data, 4).sortByKey({ partitions: 2 }).collect(), { ordered: true });
    spills = [];
    bothWays((ctx) => ctx.parallelize(data, 4).sortBy((pair) => pair[1] % 10, { ascending: false }).collect(), { ordered: true });
  });
});
