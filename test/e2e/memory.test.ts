import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { jobHistory } from "../support/faults.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
});

async function groupLarge(conf: string[]): Promise<{ jobId: string; records: [string, number, number][]; stats: Record<string, number> }> {
  const res = await runCli(["submit", "--dir", cluster.dir, "--json", ...conf, "test/fixtures/group-large.ts"]);
  expect(res.code, res.stderr).toBe(0);
  const summary = lastJson(res.stdout);
  const records = (summary.result as [string, number, number][]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { jobId: summary.jobId, records, stats: summary.stats };
}

describe("reduce-side memory", () => {
  // At 1m a task also keeps only 128 KiB of fetched blocks in memory: the rest wait in its spill dir.
  it("a groupByKey with ballast.executor.memory=1m spills, gives the same output, and leaves no spill files", async () => {
    const inMemory = await groupLarge([]);
    expect(inMemory.stats.spills).toBe(0);
    expect(inMemory.records).toHaveLength(1000);
    expect(inMemory.records.reduce((sum, [, count]) => sum + count, 0)).toBe(200_000);

    const spilled = await groupLarge(["--conf", "ballast.executor.memory=1m"]);
    expect(spilled.stats.spills).toBeGreaterThanOrEqual(4); // two reduce tasks, a few MB of groups each
    expect(spilled.stats.spilledBytes).toBeGreaterThan(1 << 20);
    expect(spilled.records).toEqual(inMemory.records);

    const executors = cluster.services.filter((s) => s.name === "executor");
    for (const executor of executors) expect(readdirSync(join(executor.dataDir, "spill"))).toEqual([]);
    expect(executors.map((executor) => readFileSync(executor.log, "utf8")).join("")).toContain("fetched blocks past memory written to the spill dir");
    const ended = (await jobHistory(cluster, spilled.jobId)).find((event) => event.type === "jobEnded")!;
    expect(ended.stats).toMatchObject({ spills: spilled.stats.spills, spilledBytes: spilled.stats.spilledBytes });
  });
});
