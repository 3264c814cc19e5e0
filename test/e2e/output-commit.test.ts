import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-commit-"));
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const save = (out: string, args: string[] = [], mode = "--json") =>
  ["submit", "--dir", cluster.dir, mode, "test/fixtures/save-numbers.ts", "--", "--output", pathToFileURL(out).href, ...args];

/** Task attempts' part files still under _temporary. */
function temporaryParts(out: string): string[] {
  const temporary = join(out, "_temporary");
  return existsSync(temporary) ? readdirSync(temporary, { recursive: true }).map(String).filter((name) => name.includes("part-")) : [];
}

async function waitFor(what: string, ready: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("job-level output commit (file://)", () => {
  it("promotes every part at job commit, writes _SUCCESS and removes _temporary", async () => {
    const out = join(work, "ok");
    const res = await runCli(save(out));
    expect(res.code, res.stderr).toBe(0);
    expect(lastJson(res.stdout).status).toBe("succeeded");
    expect(readdirSync(out).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001", "part-00002", "part-00003"]);
    expect([0, 1, 2, 3].map((n) => readFileSync(join(out, `part-0000${n}`), "utf8"))).toEqual(["0\n", "1\n", "2\n", "3\n"]);
    expect(readFileSync(join(out, "_SUCCESS"), "utf8")).toBe("");
  });

  it("a failed job leaves no output that looks valid, though other partitions had committed", async () => {
    const out = join(work, "failed");
    const res = await runCli(save(out, ["--fail-on", "3"]));
    expect(res.code).not.toBe(0);
    expect(lastJson(res.stdout).error.message).toMatch(/poisoned record 3/);
    const left = existsSync(out) ? readdirSync(out) : [];
    expect(left.filter((name) => name === "_SUCCESS" || name.startsWith("part-"))).toEqual([]);
    expect(temporaryParts(out)).toEqual([]);
  });

  it("a cancelled job leaves no output that looks valid", async () => {
    const out = join(work, "cancelled");
    const submitted = await runCli(save(out, ["--slow-from", "2"], "--detach"));
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = /submitted (job-\d+)/.exec(submitted.stdout)![1]!;
    await waitFor("partitions 0 and 1 to commit to _temporary", () => temporaryParts(out).length >= 2);
    const cancelled = await runCli(["cancel", jobId, "--dir", cluster.dir]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    await waitFor("the cancelled job's temporary output to go", () => !existsSync(join(out, "_temporary")), 30_000);
    expect(readdirSync(out).filter((name) => name === "_SUCCESS" || name.startsWith("part-"))).toEqual([]);
  });
});
