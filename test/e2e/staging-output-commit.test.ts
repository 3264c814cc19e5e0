import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StagingClient } from "@ballast/clients/staging";
import { cliUser } from "@ballast/cli/credentials";
import { testToken } from "../support/auth.js";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

/** The job-level commit of staging://PREFIX outputs, on a real cluster (file:// is output-commit.test.ts). */
let cluster: TestCluster;
let work: string;
let staging: StagingClient;
const space = `users/${cliUser()}/`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-staging-commit-"));
  cluster = await startTestCluster({ nodes: 2 });
  staging = new StagingClient(cluster.staging); // this process's cluster credentials: it sees every space
});

afterAll(async () => {
  staging?.close();
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const save = (output: string, args: string[] = [], mode = "--json") => ["submit", "--dir", cluster.dir, mode, "test/fixtures/save-numbers.ts", "--", "--output", `staging://${output}`, ...args];

/** Names under the output, relative to it, as the store holds them in the submitter's space. */
async function namesUnder(output: string): Promise<string[]> {
  const prefix = `${space}${output}/`;
  return (await staging.list(prefix)).map((blob) => blob.name.slice(prefix.length));
}

async function text(output: string, name: string): Promise<string> {
  return Buffer.from(await staging.downloadBytes({ name: `${space}${output}/${name}` })).toString();
}

async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await ready()); await new Promise((resolve) => setTimeout(resolve, 200))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

const PARTS = ["_SUCCESS", "part-00000", "part-00001", "part-00002", "part-00003"];
const looksValid = (names: string[]) => names.filter((name) => name === "_SUCCESS" || name.startsWith("part-"));

describe("job-level output commit (staging://)", () => {
  it("promotes every part at job commit, with _SUCCESS, no temporaries and exactly the job's records, though an attempt was retried", async () => {
    const res = await runCli(save("nums", ["--fail-once", join(work, "failed-once")]));
    expect(res.code, res.stderr).toBe(0);
    expect(lastJson(res.stdout).status).toBe("succeeded");
    expect(existsSync(join(work, "failed-once"))).toBe(true); // record 1's first attempt did fail
    expect(await namesUnder("nums")).toEqual(PARTS);
    expect(await Promise.all([0, 1, 2, 3].map((n) => text("nums", `part-0000${n}`)))).toEqual(["0\n", "1\n", "2\n", "3\n"]);
    expect(await text("nums", "_SUCCESS")).toBe("");

    const fetched = await runCli(["fetch", "--dir", cluster.dir, "staging://nums", join(work, "nums")]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(readdirSync(join(work, "nums")).sort()).toEqual(PARTS);
  });

  it("a zombie attempt after the job succeeded changes nothing anyone reads", async () => {
    const res = await runCli(save("zombie"));
    expect(res.code, res.stderr).toBe(0);
    const jobId = lastJson(res.stdout).jobId as string;
    // A late attempt with the job's token names its part as an attempt does (its authorization came before a partition).
    const zombie = new StagingClient(cluster.staging, { token: testToken({ role: "job", user: cliUser(), jobId, grants: { read: [], names: [], write: "zombie" } }) });
    try {
      const blob = await zombie.uploadBytes(Buffer.from("zombie\n"));
      await zombie.link(`zombie/_temporary/${jobId}.1.0.0.9/part-00000`, blob.sha256);
      // It may not promote itself, nor replace the committed part's name behind the commit's back.
      await expect(zombie.promote({ commitId: "", bindings: [{ name: "zombie/part-00000", sha256: blob.sha256 }], removePrefix: "zombie/" })).rejects.toMatchObject({ code: 7 });
    } finally {
      zombie.close();
    }
    expect(await text("zombie", "part-00000")).toBe("0\n");
    const fetched = await runCli(["fetch", "--dir", cluster.dir, "staging://zombie", join(work, "zombie")]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(readdirSync(join(work, "zombie")).sort()).toEqual(PARTS);
    expect(readFileSync(join(work, "zombie", "part-00000"), "utf8")).toBe("0\n");
  });

  it("a failed job leaves nothing valid and no temporaries, though other partitions had committed", async () => {
    const res = await runCli(save("failed", ["--fail-on", "3"]));
    expect(res.code).not.toBe(0);
    expect(lastJson(res.stdout).error.message).toMatch(/poisoned record 3/);
    await waitFor("the failed job's temporaries to go", async () => (await namesUnder("failed")).length === 0, 30_000);
  });

  it("a running job's output is refused by fetch as incomplete; cancelled, it leaves nothing", async () => {
    const submitted = await runCli(save("cancelled", ["--slow-from", "2"], "--detach"));
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = /submitted (job-\d+)/.exec(submitted.stdout)![1]!;
    await waitFor("partitions 0 and 1 to name their temporaries", async () => (await namesUnder("cancelled")).length >= 2);
    expect(looksValid(await namesUnder("cancelled"))).toEqual([]);
    const early = await runCli(["fetch", "--dir", cluster.dir, "staging://cancelled", join(work, "cancelled")]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/staging:\/\/cancelled is an incomplete job output: it has no _SUCCESS/);
    expect(existsSync(join(work, "cancelled"))).toBe(false);
    const cancelled = await runCli(["cancel", jobId, "--dir", cluster.dir]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    await waitFor("the cancelled job's temporaries to go", async () => (await namesUnder("cancelled")).length === 0, 30_000);
  });
});
