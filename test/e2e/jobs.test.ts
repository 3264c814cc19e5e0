import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKETS } from "../../examples/chained-shuffles.js";
import { seededRandom } from "@ballast/common/seededRandom";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-jobs-"));
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Two "key,value" files with repeated keys on both sides. */
function writeJoinInputs(): { left: string; right: string; expected: string[] } {
  const random = seededRandom(11);
  const rows = (side: string, n: number) => Array.from({ length: n }, (_, i) => [`k${Math.floor(random() * 300)}`, `${side}${i}`] as const);
  const leftRows = rows("l", 3000);
  const rightRows = rows("r", 800);
  const left = join(work, "left.csv");
  const right = join(work, "right.csv");
  writeFileSync(left, leftRows.map(([k, v]) => `${k},${v}`).join("\n") + "\n");
  writeFileSync(right, rightRows.map(([k, v]) => `${k},${v}`).join("\n") + "\n");
  const expected: string[] = [];
  for (const [lk, lv] of leftRows) for (const [rk, rv] of rightRows) if (lk === rk) expected.push(JSON.stringify([lk, [lv, rv]]));
  return { left, right, expected: expected.sort() };
}

describe("jobs on a 2-node cluster", () => {
  it("joins two inputs (collect)", async () => {
    const { left, right, expected } = writeJoinInputs();
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "examples/join.ts", "--", "--left", pathToFileURL(left).href, "--right", pathToFileURL(right).href]);
    expect(res.code, res.stderr).toBe(0);
    const records = lastJson(res.stdout).result as unknown[];
    expect(records.map((r) => JSON.stringify(r)).sort()).toEqual(expected);
  });

  it("runs a job with chained shuffles and matches a direct computation", async () => {
    const n = 20_000;
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "examples/chained-shuffles.ts", "--", "--n", String(n)]);
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    expect(summary.stats.stageAttempts).toBeGreaterThanOrEqual(4);
    const expected = Array.from({ length: BUCKETS }, (_, bucket) => {
      let total = 0;
      for (let i = bucket; i < n; i += BUCKETS) total += bucket;
      const sizeClass = String(total).length;
      return [bucket, [sizeClass, `${sizeClass}-digit total`]];
    });
    expect([...(summary.result as [number, unknown][])].sort((a, b) => a[0] - b[0])).toEqual(expected);
  });

  it("saves a join with saveAsTextFile, one committed part per partition", async () => {
    const { left, right, expected } = writeJoinInputs();
    const out = join(work, "joined");
    const res = await runCli(["submit", "--dir", cluster.dir, "examples/join.ts", "--", "--left", pathToFileURL(left).href, "--right", pathToFileURL(right).href, "--output", pathToFileURL(out).href]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain("output committed to");
    const parts = readdirSync(out).filter((f) => f.startsWith("part-"));
    const lines = parts.flatMap((p) => readFileSync(join(out, p), "utf8").split("\n").filter(Boolean));
    const asJson = lines.map((l) => {
      const [k, v] = l.split("\t");
      return JSON.stringify([k, JSON.parse(v!)]);
    });
    expect(asJson.sort()).toEqual(expected);
  });

  it("lists jobs and executors", async () => {
    const jobs = await runCli(["jobs", "--dir", cluster.dir]);
    expect(jobs.code).toBe(0);
    expect(jobs.stdout).toMatch(/job-\d+\tjoin\tsucceeded/);
    const executors = await runCli(["executors", "--dir", cluster.dir]);
    expect(executors.stdout).toMatch(/node-1-exec-\S+\tnode-1\tactive/);
    expect(executors.stdout).toMatch(/node-2-exec-\S+\tnode-2\tactive/);
  });
});

describe("ballast run", () => {
  it("runs a job on an embedded cluster it starts and stops", async () => {
    const res = await runCli(["run", "--json", "test/fixtures/collect-count.ts", "--", "--mode", "count"]);
    expect(res.code, res.stderr).toBe(0);
    expect(lastJson(res.stdout).result).toBe(3334);
  });
});
