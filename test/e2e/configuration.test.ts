import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { call, createClient } from "@ballast/common/grpc";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;

beforeAll(async () => {
  // A job default from the environment, as a deployment sets it (the default is 4 attempts).
  cluster = await startTestCluster({ nodes: 2, env: { BALLAST_TASK_MAXFAILURES: "3" } });
});

afterAll(async () => {
  await cluster?.stop();
});

describe("configuration across processes", () => {
  it("the scheduler takes job defaults from BALLAST_* variables", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "test/fixtures/user-error.ts"]);
    expect(res.code).toBe(1);
    const summary = lastJson(res.stdout);
    expect(summary.error.message).toMatch(/failed 3 times/);
    expect(summary.stats.taskAttemptsFailed).toBe(3);
  });

  it("refuses a process setting in a job's --conf, from the CLI and at the API", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "--conf", "ballast.executor.heartbeatTimeout=2s", "test/fixtures/collect-count.ts"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      "ballast: ballast.executor.heartbeatTimeout is a process setting, not a job's: set it where the scheduler starts (ballast-scheduler --conf ballast.executor.heartbeatTimeout=VALUE or BALLAST_EXECUTOR_HEARTBEATTIMEOUT=VALUE in its environment)\n",
    );
    const scheduler = createClient(SchedulerServiceClient, cluster.scheduler);
    try {
      const request = { plan: undefined, bundleDigest: "0".repeat(64), conf: { "ballast.scheduler.leaseTimeout": "1s" }, submissionId: "", applicationId: "" };
      await expect(call(scheduler.submitJob.bind(scheduler), request)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/is a process setting/) });
    } finally {
      scheduler.close();
    }
  });
});
