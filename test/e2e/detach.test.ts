import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { killAndWait, waitUntil } from "../support/faults.js";
import { GATE_SOURCE } from "../support/gate.js";

let cluster: TestCluster;
let work: string;
let program: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-detach-"));
  cluster = await startTestCluster({ nodes: 2 });
  program = join(work, "two-actions.ts");
  // Two actions with a gate between them: the test kills the driver's host there.
  writeFileSync(program, `import { app } from "ballast";
${GATE_SOURCE}
export default app("two-actions", async (ctx) => {
  const squares = await ctx.range(2000, 4).map((n) => n * n).filter((n) => n % 3 === 0).count();
  await gate(ctx.arg("gate"));
  const top = await ctx.range(500, 3).map((n) => [n % 7, n] as const).reduceByKey((a, b) => a + b, { partitions: 2 }).collect();
  return { squares, top: top.sort((a, b) => a[0] - b[0]) };
});
`);
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

function driverLog(applicationId: string, attempt: number): string {
  const host = driverHost(applicationId, attempt);
  return host ? readFileSync(join(host.dataDir, "drivers", `${applicationId}.${attempt}.log`), "utf8") : "";
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The executor whose data dir holds the driver's log of this attempt: the one running it. */
function driverHost(applicationId: string, attempt: number) {
  return cluster.services.find((s) => s.name === "executor" && existsSync(join(s.dataDir, "drivers", `${applicationId}.${attempt}.log`)));
}

describe("submit --detach: a supervised driver inside the cluster", () => {
  it("survives SIGKILL of the executor running it: placed again elsewhere, resumed by replay, the first job not rerun, attach prints the uninterrupted result", async () => {
    const reference = await runCli(["submit", "--dir", cluster.dir, "--json", program, "--", "--gate", ""]);
    expect(reference.code, reference.stderr).toBe(0);
    const expected = lastJson(reference.stdout).result;

    const jobIds = async () => (lastJson((await runCli(["jobs", "--dir", cluster.dir, "--json"])).stdout) as Array<{ jobId: string }>).map((job) => job.jobId);
    const before = await jobIds();
    const gate = join(work, "gate");
    const submitted = await runCli(["submit", "--detach", "--json", "--dir", cluster.dir, program, "--", "--gate", gate]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { applicationId, status } = lastJson(submitted.stdout);
    expect(applicationId).toMatch(/^app-/);
    expect(status).toBe("running");

    await waitUntil("the detached driver to finish its first action", () => existsSync(`${gate}.ready`), 120_000);
    const firstActionJobs = (await jobIds()).filter((jobId) => !before.includes(jobId));
    expect(firstActionJobs).toHaveLength(1);
    const host = driverHost(applicationId, 1)!;
    expect(host, "no executor ran driver attempt 1").toBeDefined();
    const driverPid = Number(new RegExp(`"applicationId":"${applicationId}","attempt":1,"pid":(\\d+)`).exec(readFileSync(host.log, "utf8"))?.[1]);
    expect(driverPid).toBeGreaterThan(0);
    await killAndWait(host.pid);
    // The driver dies with its host (its stdin pipe closes): no zombie driver of attempt 1 goes on.
    await waitUntil("driver attempt 1 to exit with its executor", () => !isAlive(driverPid), 10_000);
    writeFileSync(`${gate}.go`, "");

    const attached = await runCli(["attach", applicationId, "--dir", cluster.dir, "--json"]);
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stderr).toContain(`application ${applicationId} runs detached in the cluster; following it`);
    const summary = lastJson(attached.stdout);
    expect(summary.status).toBe("succeeded");
    expect(summary.result).toEqual(expected);

    // Attempt 2 ran on the surviving executor and replayed action #1 from its record: two jobs in all.
    const second = driverHost(applicationId, 2);
    expect(second?.nodeId).toBeDefined();
    expect(second!.nodeId).not.toBe(host.nodeId);
    const replayLog = driverLog(applicationId, 2);
    expect(replayLog).toContain(`application ${applicationId}, 1 finished action(s) answered from their recorded results`);
    expect(summary.jobs.map((job: { jobId: string }) => job.jobId)[0]).toBe(firstActionJobs[0]);
    expect((await jobIds()).filter((jobId) => !before.includes(jobId))).toEqual(summary.jobs.map((job: { jobId: string }) => job.jobId));
    expect(summary.jobs).toHaveLength(2);
  });

  it("cancel of a detached application stops its driver and its running job; attach says it was cancelled", async () => {
    const held = join(work, "held.ts");
    const release = join(work, "held.release");
    writeFileSync(held, `import { existsSync } from "node:fs";
import { app } from "ballast";
const cell = new Int32Array(new SharedArrayBuffer(4));
export default app("held", async (ctx) => ctx.parallelize([1, 2, 3], 1).mapPartitions((records) => {
  while (!existsSync(${JSON.stringify(release)})) Atomics.wait(cell, 0, 0, 50);
  return records;
}).count());
`);
    const submitted = await runCli(["submit", "--detach", "--json", "--dir", cluster.dir, held]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { applicationId } = lastJson(submitted.stdout);
    await waitUntil("the detached driver to submit its job", () => driverLog(applicationId, 1).includes("action #1"), 60_000);
    const cancelled = await runCli(["cancel", applicationId, "--dir", cluster.dir]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const host = driverHost(applicationId, 1)!;
    await waitUntil("the executor to stop the cancelled application's driver", () => readFileSync(host.log, "utf8").includes(`"applicationId":"${applicationId}","attempt":1,"why":"its application was cancelled"`), 20_000);
    const jobs = lastJson((await runCli(["jobs", "--dir", cluster.dir, "--json"])).stdout) as Array<{ status: string }>;
    expect(jobs.map((job) => job.status)).toContain("cancelled"); // the earlier tests cancel none
    writeFileSync(release, "");
    const attached = await runCli(["attach", applicationId, "--dir", cluster.dir]);
    expect(attached.code).toBe(1);
    expect(attached.stderr).toContain(`application ${applicationId} cancelled`);
  });

  it("attach of a detached application whose program failed says why", async () => {
    const failing = join(work, "failing.ts");
    writeFileSync(failing, `import { app } from "ballast";\nexport default app("failing", async (ctx) => ctx.parallelize([], 2).first());\n`);
    const submitted = await runCli(["submit", "--detach", "--json", "--dir", cluster.dir, failing]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { applicationId } = lastJson(submitted.stdout);
    const attached = await runCli(["attach", applicationId, "--dir", cluster.dir]);
    expect(attached.code).toBe(1);
    expect(attached.stderr).toContain(`application ${applicationId} failed: first() of an empty dataset has no result`);
  });
});
