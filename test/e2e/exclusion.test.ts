import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "@ballast/cli/cluster";
import { lastJson, runCli, startTestCluster } from "../support/cluster.js";
import { historyEvents, service, waitUntil } from "../support/faults.js";
import { prepareCorpus, readCountsDir } from "../support/wordcount.js";

// The failing-disk scenario: every task of the map stage fails on node-2 (executor fault hook).

let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-exclusion-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 3 * 1024 * 1024, 13);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const BAD_DISK = { failStage: { stageId: 0, message: "I/O error on /data (bad disk)" }, nodeIds: ["node-2"] };

async function withBadDisk<T>(nodes: number, schedulerConf: string[], body: (dir: string, submit: (...conf: string[]) => Promise<any>) => Promise<T>): Promise<T> {
  const cluster = await startTestCluster({ nodes, slots: 1, schedulerConf, env: { BALLAST_TEST_FAULTS: JSON.stringify(BAD_DISK) } });
  try {
    let run = 0;
    const submit = async (...conf: string[]) => {
      const out = join(work, `${cluster.dir.split("/").pop()}-${++run}`);
      const res = await runCli(["submit", "--dir", cluster.dir, "--json", ...conf.flatMap((c) => ["--conf", c]), "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href]);
      return { res, summary: lastJson(res.stdout), out };
    };
    return await body(cluster.dir, submit);
  } finally {
    await cluster.stop();
  }
}

async function executors(dir: string): Promise<Array<{ nodeId: string; state: string; executorId: string }>> {
  return JSON.parse((await runCli(["executors", "--dir", dir, "--json"])).stdout);
}

describe("exclusion of failing executors and nodes", () => {
  it("excludes the node with the bad disk and finishes the job elsewhere", async () => {
    await withBadDisk(3, [], async (dir, submit) => {
      const { res, summary, out } = await submit();
      expect(res.code, res.stderr).toBe(0);
      expect(readCountsDir(out).counts).toEqual(expected);
      expect(summary.stats.taskAttemptsFailed).toBeGreaterThan(0);
      const bad = (await executors(dir)).find((e) => e.nodeId === "node-2")!;
      expect(bad.state).toBe("excluded");
      const nodes = (await runCli(["nodes", "--dir", dir])).stdout;
      expect(nodes).toMatch(/node-1\tactive/);
    });
  });

  it("without exclusion the same job aborts with the bad disk as the cause", async () => {
    await withBadDisk(2, [], async (_dir, submit) => {
      const { res, summary } = await submit("ballast.excludeOnFailure.enabled=false");
      expect(res.code).toBe(1);
      expect(summary.status).toBe("failed");
      expect(summary.error.message).toMatch(/bad disk/);
    });
  });

  it("includes an excluded executor again when the timeout expires", async () => {
    await withBadDisk(3, ["ballast.excludeOnFailure.timeout=3s"], async (dir, submit) => {
      const { res } = await submit();
      expect(res.code, res.stderr).toBe(0);
      await waitUntil("node-2's executor included again", async () => (await executors(dir)).find((e) => e.nodeId === "node-2")?.state === "active", 20_000);
    });
  });

  it("kills excluded executors when asked to", async () => {
    const cluster = await startTestCluster({ nodes: 3, slots: 1, schedulerConf: ["ballast.excludeOnFailure.killExcludedExecutors=true"], env: { BALLAST_TEST_FAULTS: JSON.stringify(BAD_DISK) } });
    try {
      const out = join(work, "kill-out");
      const res = await runCli(["submit", "--dir", cluster.dir, "--json", "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href]);
      expect(res.code, res.stderr).toBe(0);
      expect(readCountsDir(out).counts).toEqual(expected);
      const pid = service(cluster, "executor", "node-2").pid;
      await waitUntil("the excluded executor to exit", () => !isAlive(pid), 20_000);
      const events = await historyEvents(cluster, "");
      expect(events.some((e) => e.type === "exclusionChanged" && e.excluded === true)).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});
