import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { readCountsDir } from "../support/wordcount.js";

/**
 * Inputs are pinned by digest at submit: a job whose tasks start only after its input's name was
 * re-pointed at other bytes still reads the bytes it was submitted with.
 */
let cluster: TestCluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-pinned-"));
  // Every task of stage 0 waits 4 s before reading its input: time to replace data.txt.
  cluster = await startTestCluster({ nodes: 1, env: { BALLAST_TEST_FAULTS: JSON.stringify({ delayTaskMs: { stageId: 0, ms: 4000 } }) } });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const submit = (output: string) =>
  runCli(["submit", "--dir", cluster.dir, "--detach", "--json", "--file", join(work, "data.txt"), "examples/wordcount.ts", "--", "--input", "staging://data.txt", "--output", `staging://${output}`]);

describe("pinned inputs", () => {
  it("a job reads exactly the bytes it was submitted with, though the name moved on", async () => {
    writeFileSync(join(work, "data.txt"), "first first version\n");
    const first = await submit("wc-first");
    expect(first.code, first.stderr).toBe(0);
    // The same name, new bytes, uploaded while the first job's tasks still wait.
    writeFileSync(join(work, "data.txt"), "second\n");
    const second = await submit("wc-second");
    expect(second.code, second.stderr).toBe(0);
    for (const submitted of [first, second]) {
      const watched = await runCli(["watch", "--dir", cluster.dir, "--json", lastJson(submitted.stdout).jobId]);
      expect(lastJson(watched.stdout).status, watched.stderr).toBe("succeeded");
    }
    for (const output of ["wc-first", "wc-second"]) {
      const fetched = await runCli(["fetch", "--dir", cluster.dir, `staging://${output}`, join(work, output)]);
      expect(fetched.code, fetched.stderr).toBe(0);
    }
    expect(readCountsDir(join(work, "wc-first")).counts).toEqual(new Map([["first", 2], ["version", 1]]));
    expect(readCountsDir(join(work, "wc-second")).counts).toEqual(new Map([["second", 1]]));
  });
});
