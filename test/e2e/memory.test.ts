import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
});

async function groupLarge(conf: string[]): Promise<{ records: [string, number, number][]; stats: Record<string, number> }> {
  const res = await runCli(["submit", "--dir", cluster.dir, "--json", ...conf, "test/fixtures/group-large.ts"]);
  expect(res.code, res.stderr).toBe(0);
  const summary = lastJson(res.stdout);
  const records = (summary.result as [string, number, number][]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { records, stats: summary.stats };
}

describe("reduce-side memory", () => {
  it("a groupByKey with ballast.executor.memory=1m spills, gives the same output, and leaves no spill files", async () => {
    const inMemory = await groupLarge([]);
    expect(inMemory.stats.spills).toBe(0);
    expect(inMemory.records).toHaveLength(1000);
    expect(inMemory.records.reduce((sum, [, count]) => sum + count, 0)).toBe(200_000);

    const spilled = await groupLarge(["--conf", "ballast.executor.memory=1m"]);
    expect(spilled.stats.spills).toBeGreaterThanOrEqual(4); // two reduce tasks, a few MB of groups each
    expect(spilled.stats.spilledBytes).toBeGreaterThan(1 << 20);
    expect(spilled.records).toEqual(inMemory.records);

    for (const executor of cluster.services.filter((s) => s.name === "executor")) {
      expect(readdirSync(join(executor.dataDir, "spill"))).toEqual([]);
    }
  });
});
