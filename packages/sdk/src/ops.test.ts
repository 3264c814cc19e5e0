import { describe, expect, it } from "vitest";
import { job } from "./index.js";
import type { JobContext } from "./context.js";
import type { Dataset } from "./dataset.js";
import type { ActionResult } from "./types.js";
import { runLocal, type LocalRunOptions } from "./testing/localRunner.js";

function run(build: (ctx: JobContext) => ActionResult, options: LocalRunOptions = {}) {
  return runLocal(job("test", build), options);
}

/** Collects with both task orders and checks they agree as multisets. */
function collect(build: (ctx: JobContext) => ActionResult, options: LocalRunOptions = {}): unknown[] {
  const forward = run(build, options).records!;
  const reverse = run(build, { ...options, reverseTaskOrder: true }).records!;
  expect(sorted(reverse)).toEqual(sorted(forward));
  return forward;
}

function sorted(records: unknown[]): unknown[] {
  return records.map((r) => JSON.stringify(r)).sort().map((s) => JSON.parse(s) as unknown);
}

const words = ["apple", "pear", "fig", "apple", "kiwi", "fig", "apple", "plum", "pear", "date"];

describe("narrow operations", () => {
  it("map, flatMap, filter, keyBy keep order within partitions", () => {
    const records = collect((ctx) =>
      ctx
        .range(20, 3)
        .map((i) => i * 2)
        .flatMap((i) => [i, i + 1])
        .filter((i) => i % 3 !== 0)
        .keyBy((i) => i % 4)
        .collect(),
    );
    const expected = Array.from({ length: 20 }, (_, i) => [i * 2, i * 2 + 1])
      .flat()
      .filter((i) => i % 3 !== 0)
      .map((i) => [i % 4, i]);
    expect(records).toEqual(expected);
  });

  it("mapPartitions sees each partition once as an iterable", () => {
    const records = collect((ctx) =>
      ctx
        .parallelize(words, 3)
        .map((w) => w.toUpperCase())
        .mapPartitions(function* (it) {
          let n = 0;
          for (const w of it) n += w.length;
          yield n;
        })
        .collect(),
    );
    expect(records).toHaveLength(3);
    expect((records as number[]).reduce((a, b) => a + b, 0)).toBe(words.join("").length);
  });

  it("union concatenates partitions, including a wide parent", () => {
    const result = run((ctx) => {
      const a = ctx.range(5, 2);
      const b = ctx.parallelize([[1, 10], [1, 5], [2, 7]] as const, 2).reduceByKey((x, y) => x + y, { partitions: 3 });
      return a.map((i) => [i, i] as const).union(b).union(a.map((i) => [i, -i] as const)).collect();
    });
    expect(result.plan.datasets.at(-1)!.numPartitions).toBe(2 + 3 + 2);
    expect(sorted(result.records!)).toEqual(
      sorted([...[0, 1, 2, 3, 4].map((i) => [i, i]), [1, 15], [2, 7], ...[0, 1, 2, 3, 4].map((i) => [i, -i])]),
    );
  });

  it("reads text files through every op", () => {
    const text = "one two\r\nthree\n\nfour five six\n";
    const records = collect((ctx) => ctx.textFile("staging://t", { minPartitions: 5 }).collect(), {
      files: { "staging://t": text },
    });
    expect(records).toEqual(["one two", "three", "", "four five six"]);
  });
});

describe("wide operations", () => {
  const pairs = words.map((w, i) => [w, i] as const);

  function groupDirect(): Map<string, number[]> {
    const groups = new Map<string, number[]>();
    for (const [w, i] of pairs) groups.set(w, [...(groups.get(w) ?? []), i]);
    return groups;
  }

  it("reduceByKey sums per key", () => {
    const records = collect((ctx) => ctx.parallelize(pairs, 4).reduceByKey((a, b) => a + b, { partitions: 3 }).collect());
    const expected = [...groupDirect()].map(([w, is]) => [w, is.reduce((a, b) => a + b, 0)]);
    expect(sorted(records)).toEqual(sorted(expected));
  });

  it("groupByKey yields every value of each key", () => {
    const records = collect((ctx) => ctx.parallelize(pairs, 4).groupByKey().collect()) as [string, number[]][];
    const normalized = records.map(([w, is]) => [w, [...is].sort((a, b) => a - b)]);
    expect(sorted(normalized)).toEqual(sorted([...groupDirect()]));
  });

  it("aggregateByKey uses a fresh zero per key and merges accumulators", () => {
    const records = collect((ctx) =>
      ctx
        .parallelize(pairs, 4)
        .aggregateByKey(
          { count: 0, max: -1 },
          (acc, v) => {
            acc.count++;
            acc.max = Math.max(acc.max, v);
            return acc;
          },
          (a, b) => ({ count: a.count + b.count, max: Math.max(a.max, b.max) }),
          { partitions: 2 },
        )
        .collect(),
    );
    const expected = [...groupDirect()].map(([w, is]) => [w, { count: is.length, max: Math.max(...is) }]);
    expect(sorted(records)).toEqual(sorted(expected));
  });

  it("distinct keeps one of each value, primitive or composite", () => {
    const values = [1, "1", 1, [1, 2], [1, 2], { a: 1, b: 2 }, { b: 2, a: 1 }, null, null, true, 0, -0];
    const records = collect((ctx) => ctx.parallelize(values, 3).distinct({ partitions: 4 }).collect());
    expect(sorted(records)).toEqual(sorted([1, "1", [1, 2], { a: 1, b: 2 }, null, true, 0]));
  });

  it("join and leftOuterJoin match by key", () => {
    const left = [["a", 1], ["b", 2], ["a", 3], ["c", 4]] as const;
    const right = [["a", "x"], ["a", "y"], ["b", "z"], ["d", "w"]] as const;
    const inner = collect((ctx) => ctx.parallelize(left, 2).join(ctx.parallelize(right, 3)).collect());
    expect(sorted(inner)).toEqual(
      sorted([["a", [1, "x"]], ["a", [1, "y"]], ["a", [3, "x"]], ["a", [3, "y"]], ["b", [2, "z"]]]),
    );
    const outer = collect((ctx) => ctx.parallelize(left, 2).leftOuterJoin(ctx.parallelize(right, 3), { partitions: 1 }).collect());
    expect(sorted(outer)).toEqual(sorted([...inner, ["c", [4, null]]]));
  });

  it("a self-join reads the same dataset through two shuffles", () => {
    const result = run((ctx) => {
      const keyed = ctx.parallelize([[1, "a"], [2, "b"]] as const, 2);
      return keyed.join(keyed).collect();
    });
    expect(result.plan.shuffles.map((s) => s.parentDatasetId)).toEqual([0, 0]);
    expect(sorted(result.records!)).toEqual(sorted([[1, ["a", "a"]], [2, ["b", "b"]]]));
  });

  it("groups composite and mixed-type keys correctly", () => {
    const data: [unknown, number][] = [[[1, "x"], 1], [[1, "x"], 2], ["1", 3], [1, 4], [{ k: 1 }, 5], [{ k: 1 }, 6]];
    const records = collect((ctx) => ctx.parallelize(data, 3).reduceByKey((a, b) => a + b, { partitions: 4 }).collect());
    expect(sorted(records)).toEqual(sorted([[[1, "x"], 3], ["1", 3], [1, 4], [{ k: 1 }, 11]]));
  });

  it("spreads many keys over reduce partitions in many chunks", () => {
    const n = 50_000;
    const result = run((ctx) => ctx.range(n, 3).map((i) => [i, i] as const).groupByKey({ partitions: 4 }).count());
    expect(result.count).toBe(n);
  });

  it("rejects records that are not pairs in keyed operations", () => {
    const notPairs = (ctx: JobContext) => ctx.range(3) as unknown as Dataset<readonly [number, number]>;
    expect(() => run((ctx) => notPairs(ctx).groupByKey().collect())).toThrow(/groupByKey needs \[key, value\] pairs, got number/);
  });
});

describe("actions", () => {
  it("count and saveAsTextFile format records", () => {
    expect(run((ctx) => ctx.range(1234, 7).count()).count).toBe(1234);
    const result = run((ctx) =>
      ctx.parallelize(["plain", 42, ["k", 1], ["g", [1, 2]], { a: 1 }, [1, 2, 3]] as unknown[], 2).saveAsTextFile("file:///tmp/out"),
    );
    expect(result.textParts).toEqual(["plain\n42\nk\t1\n", 'g\t[1,2]\n{"a":1}\n[1,2,3]\n']);
  });

  it("an empty partition produces empty output", () => {
    const result = run((ctx) => ctx.parallelize([] as number[], 2).saveAsTextFile("staging://o"));
    expect(result.textParts).toEqual(["", ""]);
    expect(run((ctx) => ctx.parallelize([] as number[], 2).collect()).records).toEqual([]);
  });
});
