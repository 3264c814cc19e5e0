import { describe, expect, it } from "vitest";
import { app, job } from "./index.js";
import { LocalPartitionCache, runLocal, runLocalApp } from "./testing/localRunner.js";

const text = "the quick fox\nthe lazy dog\n\nthe end fox\n";
const files = { "staging://words.txt": text };

describe("app(): driver programs of many actions", () => {
  it("runs every action as one job and returns what the program returns", async () => {
    const explore = app("explore", async (ctx) => {
      const words = ctx.textFile(ctx.arg("input")).flatMap((l) => l.split(" ")).filter((w) => w.length > 0).persist("disk");
      const total = await words.count();
      const distinct = await words.distinct().count();
      const top = await words.map((w) => [w, 1] as const).reduceByKey((a, b) => a + b).takeOrdered(2, ([, n]) => -n);
      return { total, distinct, top };
    });
    const { result, jobs } = await runLocalApp(explore, { args: ["--input", "staging://words.txt"], files });
    expect(result).toEqual({ total: 9, distinct: 6, top: [["the", 3], ["fox", 2]] });
    expect(jobs.map((j) => j.plan.driver?.actionIndex)).toEqual([0, 1, 2]);
  });

  it("later actions can depend on earlier results: executors replay with the recorded ones", async () => {
    const program = app("dependent", async (ctx) => {
      const numbers = ctx.range(100, 4);
      const max = await numbers.reduce((a, b) => Math.max(a, b));
      // This graph exists only because of the first result; executors rebuild it from the recorded one.
      const parts = max > 50 ? 3 : 1;
      return numbers.filter((n) => n > max - 5).repartition(parts).collect();
    });
    const { result, jobs } = await runLocalApp(program, { reverseTaskOrder: true });
    expect([...(result as number[])].sort((a, b) => a - b)).toEqual([95, 96, 97, 98, 99]);
    expect(jobs[1]!.plan.driver!.recordedResults).not.toBe("");
  });

  it("Promise.all of two actions numbers them in call order", async () => {
    const program = app("parallel", async (ctx) => {
      const data = ctx.parallelize([3, 1, 2], 2);
      return Promise.all([data.count(), data.collect()]);
    });
    const { result, jobs } = await runLocalApp(program);
    expect(result).toEqual([3, [3, 1, 2]]);
    expect(jobs.map((j) => j.plan.action)).toEqual(["count", "collect"]);
  });

  it("a failing program rejects with its error", async () => {
    const program = app("empty", async (ctx) => ctx.parallelize([] as number[], 2).first());
    await expect(runLocalApp(program)).rejects.toThrow("first() of an empty dataset has no result");
  });

  it("rejects bad names and driver-only actions in a job", () => {
    expect(() => app("bad name", async () => 1)).toThrow(/app name must be/);
    const definition = job("j", (ctx) => ctx.range(3).take(1));
    expect(() => definition.buildPlan({ args: [], inputSize: () => 0 })).toThrow(/take\(\) returns its result to a driver program/);
  });
});

describe("actions a driver merges", () => {
  const numbers = [5, 3, 9, 1, 7, 3, 8];
  const run = <R>(body: (ds: ReturnType<typeof parallel>) => PromiseLike<R>) =>
    runLocalApp(app("a", async (ctx) => body(parallel(ctx)))).then((r) => r.result as R);
  const parallel = (ctx: Parameters<Parameters<typeof app>[1]>[0]) => ctx.parallelize(numbers, 3);

  it("take, first, takeOrdered, reduce", async () => {
    expect(await run((ds) => ds.take(4))).toEqual([5, 3, 9, 1]);
    expect(await run((ds) => ds.take(0))).toEqual([]);
    expect(await run((ds) => ds.take(100))).toEqual(numbers);
    expect(await run((ds) => ds.first())).toBe(5);
    expect(await run((ds) => ds.takeOrdered(3))).toEqual([1, 3, 3]);
    expect(await run((ds) => ds.takeOrdered(2, (n) => -n))).toEqual([9, 8]);
    expect(await run((ds) => ds.reduce((a, b) => a + b))).toBe(36);
  });

  it("countByKey returns a Map", async () => {
    const counts = await run((ds) => ds.keyBy((n) => n % 2).countByKey());
    expect(counts).toEqual(new Map([[1, 6], [0, 1]]));
  });

  it("saveAsTextFile resolves with its output URI", async () => {
    expect(await run((ds) => ds.saveAsTextFile("staging://out"))).toBe("staging://out");
  });

  it("checks its arguments", async () => {
    await expect(run((ds) => ds.take(-1))).rejects.toThrow("take: n must be a non-negative integer, got -1");
    await expect(run((ds) => ds.persist("ram" as never).count())).rejects.toThrow(/persist: level must be one of "memory", "disk", "memory_and_disk"/);
  });
});

describe("persisted datasets", () => {
  const input = ["--input", "staging://words.txt"];
  const wordsOf = (ctx: Parameters<Parameters<typeof app>[1]>[0]) =>
    ctx.textFile(ctx.arg("input"), { minPartitions: 3 }).flatMap((l) => l.split(" ")).filter((w) => w.length > 0);

  it("later actions read the cached partitions instead of recomputing them", async () => {
    const cache = new LocalPartitionCache();
    const program = app("cached", async (ctx) => {
      const words = wordsOf(ctx).persist("disk");
      return [await words.count(), await words.distinct().count(), await words.first()];
    });
    const { result, jobs } = await runLocalApp(program, { args: input, files, cache });
    expect(result).toEqual([9, 6, "the"]);
    const partitions = jobs[0]!.plan.datasets.find((d) => d.storageLevel === "disk")!.numPartitions;
    expect(jobs.map((j) => j.cachedPartitionsRead)).toEqual([0, partitions, partitions]);
    expect(cache.writes).toBe(partitions);
  });

  it("a lost cached partition is recomputed from lineage, and only that one", async () => {
    const cache = new LocalPartitionCache();
    const program = app("lost", async (ctx) => {
      const words = wordsOf(ctx).cache();
      const first = await words.count();
      cache.lose("ds2", 0);
      return [first, await words.count()];
    });
    const { result, jobs } = await runLocalApp(program, { args: input, files, cache });
    expect(result).toEqual([9, 9]);
    const partitions = jobs[0]!.plan.datasets.at(-1)!.numPartitions;
    expect(jobs[1]!.cachedPartitionsRead).toBe(partitions - 1);
    expect(cache.writes).toBe(partitions + 1);
  });

  it("unpersist stops reading the cache; a job() ignores persist", async () => {
    const program = app("unpersisted", async (ctx) => {
      const words = wordsOf(ctx).persist("memory_and_disk");
      await words.count();
      return words.unpersist().count();
    });
    const { jobs } = await runLocalApp(program, { args: input, files });
    expect(jobs.map((j) => j.cachedPartitionsRead)).toEqual([0, 0]);
    expect(runLocal(job("j", (ctx) => ctx.range(5).cache().count())).count).toBe(5);
  });
});
