import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-bad-"));
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const submit = (...args: string[]) => runCli(["submit", "--dir", cluster.dir, ...args]);

/** A user mistake: a clear message on stderr, no stack trace of Ballast's own code. */
function expectClearError(res: { code: number; stderr: string }, message: RegExp) {
  expect(res.code).not.toBe(0);
  expect(res.stderr).toMatch(message);
  expect(res.stderr).not.toMatch(/packages\/(cli|common)\/src/);
}

describe("bad input gets a clear error and the cluster keeps serving", () => {
  it("rejects a job file that does not exist", async () => {
    expectClearError(await submit("test/fixtures/nope.ts"), /job file not found: test\/fixtures\/nope\.ts/);
  });

  it("rejects a job file that does not compile, naming the line", async () => {
    const file = join(work, "broken.ts");
    writeFileSync(file, 'import { job } from "ballast";\nexport default job("x", (ctx) => ctx.range(3, 1).count(;\n');
    expectClearError(await submit(file), /does not compile:\n.*broken\.ts:2:/);
  });

  it("rejects a file without a job as default export", async () => {
    expectClearError(await submit("test/fixtures/no-default.ts"), /must `export default job/);
  });

  it("reports a job that throws while building its plan, with its frame", async () => {
    expectClearError(await submit("test/fixtures/throws-in-plan.ts"), /refusing to build this plan[\s\S]*throws-in-plan\.ts:4/);
  });

  it("rejects an input URI that does not exist", async () => {
    expectClearError(await submit("examples/wordcount.ts", "--", "--input", "file:///no/such/corpus.txt", "--output", `file://${work}/out`), /input not found: file:\/\/\/no\/such\/corpus\.txt/);
  });

  it("rejects a missing job argument", async () => {
    expectClearError(await submit("examples/wordcount.ts"), /missing job argument --input/);
  });

  it("rejects unknown and ill-typed --conf keys", async () => {
    expectClearError(await submit("--conf", "ballast.no.such=1", "test/fixtures/collect-count.ts"), /unknown configuration key: ballast\.no\.such/);
    expectClearError(await submit("--conf", "ballast.task.maxFailures=many", "test/fixtures/collect-count.ts"), /invalid value for ballast\.task\.maxFailures: "many"/);
    // A combination that cannot work: per-node attempts must stay below the task's attempts.
    expectClearError(await submit("--conf", "ballast.task.maxFailures=2", "test/fixtures/collect-count.ts"), /maxTaskAttemptsPerNode/);
  });

  it("shows the user's error message and stack frame after the retries", async () => {
    const res = await submit("--json", "--conf", "ballast.task.maxFailures=3", "test/fixtures/user-error.ts");
    expect(res.code).toBe(1);
    const summary = lastJson(res.stdout);
    expect(summary.status).toBe("failed");
    expect(summary.error.message).toMatch(/failed 3 times[\s\S]*cannot handle record 42/);
    expect(summary.error.stack).toMatch(/user-error\.ts:8/);
    expect(summary.stats.taskAttemptsFailed).toBe(3);
  });

  it("still runs the next job: collect and count", async () => {
    const collected = await submit("--json", "test/fixtures/collect-count.ts", "--", "--mode", "collect");
    expect(collected.code, collected.stderr).toBe(0);
    const expected = Array.from({ length: 100 }, (_, i) => i * i).filter((n) => n % 2 === 0);
    expect(lastJson(collected.stdout).result).toEqual(expected);
    const counted = await submit("--json", "test/fixtures/collect-count.ts", "--", "--mode", "count");
    expect(counted.code, counted.stderr).toBe(0);
    expect(lastJson(counted.stdout).result).toBe(Array.from({ length: 10_000 }, (_, i) => i).filter((n) => n % 3 === 0).length);
  });
});
