import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../../gen/ballast/v1/common.js";
import { startShuffleServer, type ShuffleServer } from "../../shuffle/src/server.js";
import { StagingClient } from "../../staging/src/client.js";
import { startStagingServer, type StagingServer } from "../../staging/src/server.js";
import { FakeScheduler, waitFor } from "./testing/fakeScheduler.js";
import { launchOf, logger } from "./testing/harness.js";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "./testing/jobs.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = "services/executor/src/main.ts";

describe("executor process", () => {
  let dir: string;
  let scheduler: FakeScheduler;
  let shuffle: ShuffleServer;
  let staging: StagingServer;
  let job: BundledJob;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-executor-proc-"));
    scheduler = new FakeScheduler();
    await scheduler.start();
    shuffle = await startShuffleServer({ address: "127.0.0.1:0", dataDir: join(dir, "shuffle"), nodeId: "node-p", logger });
    staging = await startStagingServer({ address: "127.0.0.1:0", dataDir: join(dir, "staging") });
    job = await bundleJob(dir, "modes", MODE_JOB);
    const client = new StagingClient(staging.address);
    await client.uploadFile(job.bundlePath);
    client.close();
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    await scheduler.crash();
    await shuffle.stop();
    await staging.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rejects bad flags with one line and exit status 2", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", MAIN, "--node-id", "n", "--scheduler", "nope"], { cwd: REPO, encoding: "utf8", env: { ...process.env, BALLAST_DATA_DIR: dir } });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/--scheduler must be HOST:PORT/);
  });

  it("runs tasks from the bundle in staging, and on SIGTERM kills running tasks, reports them and exits 0", async () => {
    const args = ["--import", "tsx", MAIN, "--scheduler", scheduler.address, "--shuffle", shuffle.address, "--staging", staging.address, "--slots", "1"];
    child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BALLAST_NODE_ID: "node-p", BALLAST_DATA_DIR: join(dir, "exec") } });
    let stdout = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));

    const registration = await waitFor("registration", () => scheduler.registrations[0]);
    expect(registration).toMatchObject({ nodeId: "node-p", slots: 1, shuffleAddress: shuffle.address });
    expect(registration.executorId).toBe(`node-p-exec-${child.pid}`);

    const okPlan = await planOf(job, ["--mode", "ok"]);
    scheduler.launch(launchOf(job, okPlan, { taskId: "p-ok", partition: 0 }));
    const done = await waitFor("p-ok result", () => scheduler.updatesFor("p-ok").find((u) => u.state === TaskState.TASK_STATE_SUCCEEDED));
    expect(new Packr({ useRecords: false }).unpack(done.result!.records)).toEqual([0, 2, 4, 6, 8]);

    const spinPlan = await planOf(job, ["--mode", "spin", "--spinMs", "60000"]);
    scheduler.launch(launchOf(job, spinPlan, { taskId: "p-spin", partition: 0 }));
    await waitFor("p-spin running", () => scheduler.heartbeats.some((b) => b.runningTaskIds.includes("p-spin")));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(scheduler.updatesFor("p-spin").at(-1)!.state).toBe(TaskState.TASK_STATE_KILLED);
    expect(stdout).toBe("");
    child = undefined;
  });
});
