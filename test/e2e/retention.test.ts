import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCluster } from "@ballast/cli/cluster";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 1, schedulerConf: ["ballast.scheduler.jobRetention=4s"] });
});

afterAll(async () => {
  await cluster?.stop();
});

/** The job ids in the scheduler store's job-record table (the SQLite file, read-only while the scheduler runs). */
function storedJobRecords(): string[] {
  const scheduler = readCluster(cluster.dir).services.find((service) => service.name === "scheduler")!;
  const db = new Database(join(scheduler.dataDir, "scheduler.sqlite"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT job_id FROM jobs").pluck().all() as string[];
  } finally {
    db.close();
  }
}

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
    expect(status.stderr).toContain(`history keeps ended jobs: http://${cluster.historyHttp}/login?job=${jobId}&ticket=bt1t.login.`);
    const jobs = await runCli(["jobs", "--dir", cluster.dir, "--json"]);
    expect(JSON.parse(jobs.stdout).map((job: { jobId: string }) => job.jobId)).not.toContain(jobId);
    // Its record (submission id, trace context) left the scheduler's store with it.
    expect(storedJobRecords()).not.toContain(jobId);
  }, 90_000);

  it("keeps the record of a job it still holds", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "test/fixtures/collect-count.ts"]);
    expect(res.code, res.stderr).toBe(0);
    expect(storedJobRecords()).toContain(lastJson(res.stdout).jobId);
  }, 60_000);
});
