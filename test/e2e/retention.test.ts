import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 1, schedulerConf: ["ballast.scheduler.jobRetention=4s"] });
});

afterAll(async () => {
  await cluster?.stop();
});

describe("ended jobs leave the scheduler after ballast.scheduler.jobRetention", () => {
  it("status of an evicted job says where it went; jobs no longer lists it", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "test/fixtures/collect-count.ts"]);
    expect(res.code, res.stderr).toBe(0);
    const { jobId } = lastJson(res.stdout);
    const held = await runCli(["status", jobId, "--dir", cluster.dir, "--json"]);
    expect(JSON.parse(held.stdout).status).toBe("succeeded"); // still held right after its end
    let status = held;
    for (const deadline = Date.now() + 30_000; status.code === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      status = await runCli(["status", jobId, "--dir", cluster.dir]);
    }
    expect(status.code).toBe(2);
    expect(status.stderr).toContain(`the scheduler has no job ${jobId}`);
    expect(status.stderr).toContain(`history keeps ended jobs: http://${cluster.historyHttp}/#/job/${jobId}`);
    const jobs = await runCli(["jobs", "--dir", cluster.dir, "--json"]);
    expect(JSON.parse(jobs.stdout).map((job: { jobId: string }) => job.jobId)).not.toContain(jobId);
  }, 90_000);
});
