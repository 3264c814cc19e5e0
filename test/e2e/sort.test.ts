import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { jobHistory, killNode, readTaskEvents, waitUntil } from "../support/faults.js";
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
    // Each executor shares its node shuffle service's disk here: the blocks went through the files.
    for (const node of ["node-1", "node-2"]) {
      const log = readFileSync(join(cluster.dir, "logs", `${node}-executor.log`), "utf8");
      expect(log, node).toMatch(/"shared":true[^\n]*host-local file access checked/);
      expect(readdirSync(join(cluster.dir, node, "shuffle", "staging")), node).toEqual([]);
    }
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

describe("sort under a node loss", () => {
  it("SIGKILL a node while the sorted partitions are read: lost map outputs are recomputed with the same bounds, the sample never reruns", async () => {
    const input = join(work, "lossy.txt");
    const expected = writeTeraSortInput(input, 50_000, 13);
    const eventsFile = join(work, "lossy.events");
    // Stages: 0 samples, 1 writes the range shuffle, 2 sorts each range; its tasks wait so the kill lands mid-stage.
    const faults = { delayTaskMs: { stageId: 2, ms: 1500 } };
    const lossy = await startTestCluster({
      nodes: 3,
      slots: 1,
      schedulerConf: ["ballast.executor.heartbeatTimeout=2s"],
      env: { BALLAST_TEST_FAULTS: JSON.stringify(faults), BALLAST_TEST_TASK_EVENTS_FILE: eventsFile },
    });
    try {
      const out = join(work, "lossy-sorted");
      const submission = runCli([
        "submit", "--dir", lossy.dir, "--json", "examples/sort.ts", "--",
        "--input", pathToFileURL(input).href, "--output", pathToFileURL(out).href, "--partitions", "4", "--minPartitions", "6",
      ]);
      await waitUntil("a sort task running", () => readTaskEvents(eventsFile).some((e) => e.event === "start" && e.stageId === 2));
      killNode(lossy, "node-1");
      const res = await submission;
      expect(res.code, res.stderr).toBe(0);
      const history = await jobHistory(lossy, lastJson(res.stdout).jobId);
      const resubmitted = history.filter((e) => e.type === "stageResubmitted").map((e) => e.stageId);
      expect(resubmitted).not.toContain(0);
      // Outputs of the range shuffle lost with node-1 (if it held any) were recomputed by stage 1 alone.
      if (history.some((e) => e.type === "mapOutputsLost" && e.stageId === 1)) expect(resubmitted).toContain(1);
      const validation = validateSortedLines(partFileLines(out));
      expect(validation.firstDisorder).toBeUndefined();
      expect({ records: validation.records, checksum: validation.checksum }).toEqual(expected);
    } finally {
      await lossy.stop();
    }
  });
});
