import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { partFileLines, validateSortedLines, writeTeraSortInput } from "../support/teraSort.js";

let cluster: TestCluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-sort-"));
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("sort on a 2-node cluster", () => {
  it("sorts 100k TeraSort records into globally ordered, complete part files", async () => {
    const input = join(work, "records.txt");
    const expected = writeTeraSortInput(input, 100_000, 5);
    const out = join(work, "sorted");
    const res = await runCli([
      "submit", "--dir", cluster.dir, "--json", "examples/sort.ts", "--",
      "--input", pathToFileURL(input).href, "--output", pathToFileURL(out).href, "--partitions", "4",
    ]);
    expect(res.code, res.stderr).toBe(0);
    // Sample stage, map stage, result stage.
    expect(lastJson(res.stdout).stats.stageAttempts).toBeGreaterThanOrEqual(3);
    const validation = validateSortedLines(partFileLines(out));
    expect(validation.firstDisorder).toBeUndefined();
    expect({ records: validation.records, checksum: validation.checksum }).toEqual(expected);
  });

  it("collects a sort in global order (partitions concatenated in order)", async () => {
    const input = join(work, "small.txt");
    writeTeraSortInput(input, 2000, 9);
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "examples/sort.ts", "--", "--input", pathToFileURL(input).href, "--partitions", "3"]);
    expect(res.code, res.stderr).toBe(0);
    const lines = lastJson(res.stdout).result as string[];
    expect(lines).toHaveLength(2000);
    expect(validateSortedLines(lines).firstDisorder).toBeUndefined();
  });
});
