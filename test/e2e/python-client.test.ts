import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

/**
 * The Python client (clients/python) against a real cluster, with Debian's python3-grpcio; skipped,
 * saying why, where that is not installed.
 */
const PYTHON = "/usr/bin/python3";
const probe = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], { encoding: "utf8" });
const skipReason = probe.error ? `${PYTHON} is not installed` : probe.status !== 0 ? "python3-grpcio is not installed (apt-get install python3-grpcio)" : undefined;

describe.skipIf(skipReason)(`Python client${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 2 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("watches a job, lists nodes and decommissions one", async () => {
    const submitted = await runCli(["submit", "--dir", cluster.dir, "--detach", "test/fixtures/slow.ts", "--", "--tasks", "2", "--ms", "1000"]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = /submitted (job-\d+)/.exec(submitted.stdout)![1]!;
    const run = spawnSync(PYTHON, ["-m", "unittest", "-v", "tests/test_cluster.py"], {
      cwd: join(REPO, "clients/python"),
      env: { ...process.env, BALLAST_CLUSTER_DIR: cluster.dir, BALLAST_JOB_ID: jobId },
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Ran 3 tests[\s\S]*OK/);
  });
});
