import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, spawnCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;
let work: string;
/** The --json summary of the explore run, attached to again later. */
let finished: any;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-apps-"));
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Word i of line j cycles through a small vocabulary, so counts are known. */
function writeWords(lines: number): { uri: string; counts: Map<string, number> } {
  const vocabulary = ["ballast", "keel", "hull", "mast", "sail", "deck", "bow", "stern"];
  const counts = new Map<string, number>();
  const text: string[] = [];
  for (let j = 0; j < lines; j++) {
    const words = Array.from({ length: 1 + (j % 5) }, (_, i) => vocabulary[(i * 3 + j) % (1 + (j % vocabulary.length))]!);
    for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
    text.push(words.join(" "));
  }
  const file = join(work, "words.txt");
  writeFileSync(file, text.join("\n") + "\n");
  return { uri: pathToFileURL(file).href, counts };
}

describe("applications on a 2-node cluster", () => {
  it("runs examples/explore.ts: three actions, three jobs, one JSON line with the program's result", async () => {
    const { uri, counts } = writeWords(4000);
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "examples/explore.ts", "--", "--input", uri]);
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    expect(summary.applicationId).toMatch(/^app-/);
    expect(summary.status).toBe("succeeded");
    expect(summary.result).toEqual({ total: [...counts.values()].reduce((a, b) => a + b, 0), distinct: counts.size, top });
    expect(summary.jobs).toHaveLength(3);
    for (const job of summary.jobs) {
      expect(job.status).toBe("succeeded");
      expect(job.stats.tasksLaunched).toBeGreaterThan(0);
    }
    expect(new Set(summary.jobs.map((job: { jobId: string }) => job.jobId)).size).toBe(3);
    finished = summary;
  });

  it("`ballast attach` of a succeeded application answers every action from the scheduler's record: the same result, no job run", async () => {
    const jobsBefore = lastJson((await runCli(["jobs", "--dir", cluster.dir, "--json"])).stdout).length;
    const res = await runCli(["attach", finished.applicationId, "--dir", cluster.dir, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`application ${finished.applicationId}, 3 finished action(s) answered from their recorded results`);
    const summary = lastJson(res.stdout);
    expect(summary.result).toEqual(finished.result);
    expect(summary.jobs.map((job: { jobId: string }) => job.jobId)).toEqual(finished.jobs.map((job: { jobId: string }) => job.jobId));
    expect(lastJson((await runCli(["jobs", "--dir", cluster.dir, "--json"])).stdout).length).toBe(jobsBefore);
  });

  it("`ballast attach` of an unknown application says there is none", async () => {
    const res = await runCli(["attach", "app-none", "--dir", cluster.dir]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("no application app-none on this cluster");
  });

  it("`ballast cancel APP_ID` cancels the application and its running job; its driver stops, and attach says it was cancelled", async () => {
    const gate = join(work, "cancel.gate");
    const file = join(work, "held.ts");
    writeFileSync(file, `import { existsSync } from "node:fs";
import { app } from "ballast";
const cell = new Int32Array(new SharedArrayBuffer(4));
export default app("held", async (ctx) => {
  const first = await ctx.parallelize([1, 2, 3], 1).count();
  const held = await ctx.parallelize([1, 2, 3], 1).mapPartitions((records) => {
    while (!existsSync(${JSON.stringify(gate)})) Atomics.wait(cell, 0, 0, 50);
    return records;
  }).count();
  return { first, held, after: await ctx.parallelize([1], 1).count() };
});
`);
    const driver = spawnCli(["submit", "--dir", cluster.dir, "--json", file]);
    await driver.waitFor(/action #2 \(count\): submitted (\S+)/, 120_000);
    const [, applicationId] = /application (app-\S+)/.exec(driver.output().stderr)!;
    const cancelled = await runCli(["cancel", applicationId!, "--dir", cluster.dir]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`${applicationId} cancelled`);
    writeFileSync(gate, "");
    const res = await driver.done;
    expect(res.code).toBe(1);
    const summary = lastJson(res.stdout);
    expect(summary.status).toBe("cancelled");
    expect(summary.jobs.map((job: { status: string }) => job.status)).toEqual(["succeeded", "cancelled"]);
    const attached = await runCli(["attach", applicationId!, "--dir", cluster.dir]);
    expect(attached.code).toBe(1);
    expect(attached.stderr).toContain(`application ${applicationId} cancelled: cancelled by user`);
  });

  it("a program's own error ends the application with a clear message, not a stack trace of ours", async () => {
    const file = join(work, "empty-first.ts");
    writeFileSync(file, `import { app } from "ballast";\nexport default app("empty", async (ctx) => ctx.parallelize([], 2).first());\n`);
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", file]);
    expect(res.code).toBe(1);
    const summary = lastJson(res.stdout);
    expect(summary.status).toBe("failed");
    expect(summary.error.message).toBe("first() of an empty dataset has no result");
    expect(res.stderr).not.toMatch(/at .*packages\/sdk/);
    // The scheduler recorded how it ended: attach says so instead of running it again.
    const attached = await runCli(["attach", summary.applicationId, "--dir", cluster.dir]);
    expect(attached.code).toBe(1);
    expect(attached.stderr).toContain(`application ${summary.applicationId} failed: first() of an empty dataset has no result; submit its program again to rerun it`);
  });
});
