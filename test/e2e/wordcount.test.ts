import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StagingClient } from "@ballast/clients/staging";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { parseCounts, prepareCorpus } from "../support/wordcount.js";
import { cliUserToken } from "../support/auth.js";

let cluster: TestCluster;
let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-wc-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 20 * 1024 * 1024, 7);
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("word count on a 2-node cluster", () => {
  it("counts a 20 MB file:// corpus exactly, committing each part file once", async () => {
    const out = join(work, "out-file");
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href]);
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    expect(summary.status).toBe("succeeded");
    expect(summary.stats.tasksLaunched).toBeGreaterThan(0);
    const parts = readdirSync(out).filter((f) => f.startsWith("part-")).sort();
    expect(parts).toEqual(["part-00000", "part-00001", "part-00002", "part-00003"]);
    const counts = new Map<string, number>();
    for (const part of parts) parseCounts(readFileSync(join(out, part), "utf8"), counts);
    expect(counts).toEqual(expected);
    expect(existsSync(join(out, "_SUCCESS"))).toBe(true);
    expect(existsSync(join(out, "_temporary"))).toBe(false);
  });

  it("reads an uploaded staging:// input and writes staging:// output", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "--file", corpus, "examples/wordcount.ts", "--", "--input", "staging://corpus.txt", "--output", "staging://results/wc"]);
    expect(res.code, res.stderr).toBe(0);
    // The output is in the submitting user's staging space (the CLI submits as that user).
    const staging = new StagingClient(cluster.staging, { token: cliUserToken() });
    try {
      const names = (await staging.list("results/wc/")).map((b) => b.name).sort();
      // Committed job-wide: the parts and _SUCCESS, no attempt's temporaries.
      expect(names).toEqual(["results/wc/_SUCCESS", "results/wc/part-00000", "results/wc/part-00001", "results/wc/part-00002", "results/wc/part-00003"]);
      const parts = names.filter((name) => name.includes("/part-"));
      const counts = new Map<string, number>();
      for (const name of parts) parseCounts(Buffer.from(await staging.downloadBytes({ name })).toString("utf8"), counts);
      expect(counts).toEqual(expected);
    } finally {
      staging.close();
    }
  });
});

describe("word count with host-local shuffle off (ballast.shuffle.hostLocal=false)", () => {
  it("streams every map output and block over gRPC and counts exactly the same", async () => {
    const streaming = await startTestCluster({ nodes: 2, env: { BALLAST_SHUFFLE_HOSTLOCAL: "false" } });
    try {
      const out = join(work, "out-streamed");
      const res = await runCli(["submit", "--dir", streaming.dir, "--json", "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href]);
      expect(res.code, res.stderr).toBe(0);
      const counts = new Map<string, number>();
      for (const part of readdirSync(out).filter((f) => f.startsWith("part-"))) parseCounts(readFileSync(join(out, part), "utf8"), counts);
      expect(counts).toEqual(expected);
      for (const node of ["node-1", "node-2"]) {
        expect(readFileSync(join(streaming.dir, "logs", `${node}-executor.log`), "utf8"), node).not.toMatch(/host-local file access checked/);
      }
    } finally {
      await streaming.stop();
    }
  });
});
