import { describe, expect, it } from "vitest";
import { job, JobDefinitionError, type JobDefinition } from "./index.js";
import type { JobContext } from "./context.js";
import type { ActionResult } from "./types.js";
import { shuffleReadsOf } from "./planning.js";

const inputSize = (): number => 1000;

/** The caller's line number, from its stack frame. */
function currentLine(): number {
  const frame = new Error().stack!.split("\n")[2]!;
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

function planOf(build: (ctx: JobContext) => ActionResult, args: string[] = []) {
  return job("plan-test", build).buildPlan({ args, inputSize }).plan;
}

function definitionError(definition: JobDefinition, args: string[] = []): string {
  try {
    definition.buildPlan({ args, inputSize });
  } catch (error) {
    expect(error).toBeInstanceOf(JobDefinitionError);
    return (error as Error).message;
  }
  throw new Error("expected a JobDefinitionError");
}

const joinJob = (ctx: JobContext): ActionResult => {
  const left = ctx.textFile(ctx.arg("in"), { minPartitions: 3 }).map((line) => [line, 1] as const);
  const right = ctx.parallelize([["a", 2]] as const, 2);
  ctx.range(10); // not used by the action: left out of the plan
  return left.reduceByKey((a, b) => a + b).join(right, { partitions: 5 }).saveAsTextFile("staging://out");
};

describe("plan", () => {
  it("lists the datasets the action needs, in creation order, with shuffles per wide parent", () => {
    const plan = planOf(joinJob, ["--in", "file:///data/in.txt"]);
    expect(plan.datasets.map((d) => [d.id, d.op, d.parentIds, d.numPartitions, d.wide])).toEqual([
      [0, "textFile", [], 3, false],
      [1, "map", [0], 3, false],
      [2, "parallelize", [], 2, false],
      [3, "reduceByKey", [1], 3, true],
      [4, "join", [3, 2], 5, true],
    ]);
    expect(plan.shuffles).toEqual([
      { shuffleIndex: 0, parentDatasetId: 1, childDatasetId: 3, numReducePartitions: 3 },
      { shuffleIndex: 1, parentDatasetId: 3, childDatasetId: 4, numReducePartitions: 5 },
      { shuffleIndex: 2, parentDatasetId: 2, childDatasetId: 4, numReducePartitions: 5 },
    ]);
    expect(plan).toMatchObject({
      jobName: "plan-test",
      finalDatasetId: 4,
      action: "saveAsTextFile",
      outputUri: "staging://out",
      args: ["--in", "file:///data/in.txt"],
      inputs: [{ uri: "file:///data/in.txt", size: 1000 }],
    });
    expect(plan.datasets[0]!.uri).toBe("file:///data/in.txt");
    expect(plan.graphHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("records the user's call site", () => {
    const [plan, line] = [planOf((ctx) => ctx.range(3).map((i) => i).count()), currentLine()];
    expect(plan.datasets[0]!.callSite).toBe(`plan.test.ts:${line}`);
    expect(plan.datasets[1]!.callSite).toBe(plan.datasets[0]!.callSite);
  });

  it("formats call sites only when they are read (executors build the plan for its hash alone)", () => {
    const previous = Error.prepareStackTrace;
    let formatted = 0;
    Error.prepareStackTrace = (error, frames) => {
      formatted++;
      return previous ? previous(error, frames) : `${error}\n${frames.map((frame) => `    at ${frame}`).join("\n")}`;
    };
    try {
      const [plan, line] = [planOf((ctx) => ctx.range(3).map((i) => i).count()), currentLine()];
      formatted--; // currentLine's own stack
      expect(plan.graphHash).toMatch(/^[0-9a-f]{64}$/);
      expect(formatted).toBe(0);
      expect(plan.datasets.map((dataset) => dataset.callSite)).toEqual([`plan.test.ts:${line}`, `plan.test.ts:${line}`]);
      expect(formatted).toBe(2);
    } finally {
      Error.prepareStackTrace = previous;
    }
  });

  it("maps tasks to the reduce partitions they read, through unions", () => {
    const plan = planOf((ctx) => {
      const reduced = ctx.parallelize([[1, 1]] as const, 2).reduceByKey((a, b) => a + b, { partitions: 3 });
      return ctx.range(4, 2).map((i) => [i, i] as const).union(reduced.map((x) => x)).count();
    });
    const finalId = plan.finalDatasetId;
    expect(shuffleReadsOf(plan, finalId, 0)).toEqual([]);
    expect(shuffleReadsOf(plan, finalId, 3)).toEqual([{ shuffleIndex: 0, reducePartition: 1 }]);
    expect(shuffleReadsOf(plan, plan.shuffles[0]!.parentDatasetId, 1)).toEqual([]);
    // A held (cached) partition of the reduced side stops the walk: its shuffle is not read.
    const reducedId = plan.shuffles[0]!.childDatasetId;
    expect(shuffleReadsOf(plan, finalId, 3, (id, p) => id === reducedId && p === 1)).toEqual([]);
    expect(shuffleReadsOf(plan, finalId, 2, (id, p) => id === reducedId && p === 1)).toEqual([{ shuffleIndex: 0, reducePartition: 0 }]);
  });
});

describe("graphHash", () => {
  it("is the same for every build of the same graph and args", () => {
    const args = ["--in", "file:///data/in.txt"];
    expect(planOf(joinJob, args).graphHash).toBe(planOf(joinJob, args).graphHash);
  });

  it("changes with args, partition counts, ops, input sizes and parallelized data", () => {
    const hashes = new Set([
      planOf(joinJob, ["--in", "file:///a"]).graphHash,
      planOf(joinJob, ["--in", "file:///b"]).graphHash,
      planOf((ctx) => ctx.range(10, 2).count()).graphHash,
      planOf((ctx) => ctx.range(10, 3).count()).graphHash,
      planOf((ctx) => ctx.range(11, 2).count()).graphHash,
      planOf((ctx) => ctx.range(10, 2).collect()).graphHash,
      planOf((ctx) => ctx.range(10, 2).map((x) => x).count()).graphHash,
      planOf((ctx) => ctx.parallelize([1, 2], 2).count()).graphHash,
      planOf((ctx) => ctx.parallelize([1, 3], 2).count()).graphHash,
      job("plan-test", joinJob).buildPlan({ args: ["--in", "file:///a"], inputSize: () => 5 }).plan.graphHash,
    ]);
    expect(hashes.size).toBe(10);
  });

  it("differs between builds of a nondeterministic graph", () => {
    let build = 0;
    const flaky = job("flaky", (ctx) => ctx.range(10, ++build).count());
    const first = flaky.buildPlan({ args: [], inputSize }).plan.graphHash;
    expect(flaky.buildPlan({ args: [], inputSize }).plan.graphHash).not.toBe(first);
  });
});

describe("misuse", () => {
  it("reports a missing argument, and uses defaults", () => {
    expect(definitionError(job("j", (ctx) => ctx.textFile(ctx.arg("input")).count()))).toBe(
      'job "j": missing job argument --input',
    );
    const plan = job("j", (ctx) => ctx.range(Number(ctx.arg("n", "5"))).count()).buildPlan({ args: ["--x=1"], inputSize }).plan;
    expect(plan.args).toEqual(["--x=1"]);
  });

  it("rejects bad partition counts and URIs", () => {
    expect(definitionError(job("j", (ctx) => ctx.range(5, 0).count()))).toMatch(/range: partitions must be an integer from 1/);
    expect(definitionError(job("j", (ctx) => ctx.range(5).map((x) => [x, x] as const).groupByKey({ partitions: 1.5 }).count()))).toMatch(
      /groupByKey: partitions must be an integer/,
    );
    expect(definitionError(job("j", (ctx) => ctx.textFile("/relative/path").count()))).toMatch(/textFile: expected a file:/);
    expect(definitionError(job("j", (ctx) => ctx.range(1).saveAsTextFile("out")))).toMatch(/saveAsTextFile: expected/);
    expect(definitionError(job("j", (ctx) => ctx.range(-1).count()))).toMatch(/non-negative integer/);
  });

  it("requires exactly one action, returned synchronously", () => {
    expect(definitionError(job("j", () => undefined as never))).toMatch(/must end with an action/);
    expect(definitionError(job("j", (ctx) => (ctx.range(1).count(), ctx.range(2).count())))).toMatch(/already called/);
    expect(definitionError(job("j", (async (ctx: JobContext) => ctx.range(1).count()) as never))).toMatch(/synchronous/);
    expect(definitionError(job("j", (() => 42) as never))).toMatch(/must end with an action/);
    expect(definitionError(job("j", ((ctx: JobContext) => (ctx.range(1).count(), 42)) as never))).toMatch(/must return the result/);
  });

  it("rejects non-functions and datasets of another build", () => {
    expect(definitionError(job("j", (ctx) => ctx.range(1).map(undefined as never).count()))).toBe("map expects a function, got undefined");
    let stolen: ReturnType<JobContext["range"]> | undefined;
    const thief = job("j", (ctx) => {
      const own = ctx.range(2);
      const result = stolen ? own.union(stolen).count() : own.count();
      stolen = own;
      return result;
    });
    thief.buildPlan({ args: [], inputSize });
    expect(definitionError(thief)).toBe("union expects a dataset created by the same job");
    expect(() => stolen!.map((x) => x)).toThrow(/only be defined while the build function runs/);
  });

  it("validates the job name and lets user errors through unchanged", () => {
    expect(() => job("", (ctx) => ctx.range(1).count())).toThrow(JobDefinitionError);
    const boom = new RangeError("user code failed");
    expect(() =>
      job("j", () => {
        throw boom;
      }).buildPlan({ args: [], inputSize }),
    ).toThrow(boom);
  });
});
