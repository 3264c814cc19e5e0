import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@ballast/gen/common";
import { NodeState } from "@ballast/gen/scheduler";
import { startShuffleServer, type ShuffleServer } from "@ballast/shuffle/server";
import { StagingClient } from "@ballast/clients/staging";
import { startStagingServer, type StagingServer } from "@ballast/staging/server";
import { FakeScheduler, waitFor } from "./testing/fakeScheduler.js";
import { launchOf, logger } from "./testing/harness.js";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "./testing/jobs.js";
import { builtEntry } from "@ballast/common/entry";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = builtEntry("@ballast/executor");

describe("executor process", () => {
  let dir: string;
  let scheduler: FakeScheduler;
  const schedulers: FakeScheduler[] = [];
  let shuffle: ShuffleServer;
  let staging: StagingServer;
  let job: BundledJob;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-executor-proc-"));
    shuffle = await startShuffleServer({ address: "127.0.0.1:0", dataDir: join(dir, "shuffle"), nodeId: "node-p", logger });
    staging = await startStagingServer({ address: "127.0.0.1:0", dataDir: join(dir, "staging") });
    job = await bundleJob(dir, "modes", MODE_JOB);
    const client = new StagingClient(staging.address);
    await client.uploadFile(job.bundlePath);
    client.close();
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    for (const s of schedulers) await s.crash();
    await shuffle.stop();
    await staging.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rejects bad flags with one line and exit status 2", () => {
    const result = spawnSync(process.execPath, [MAIN, "--node-id", "n", "--scheduler", "nope"], { cwd: REPO, encoding: "utf8", env: { ...process.env, BALLAST_DATA_DIR: dir } });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/--scheduler must be HOST:PORT/);
  });

  it("rejects a malformed BALLAST_TEST_FAULTS with one line and exit status 2", () => {
    const env = { ...process.env, BALLAST_DATA_DIR: dir, BALLAST_TEST_FAULTS: '{"failStage":{"stageId":"x"}}' };
    const result = spawnSync(process.execPath, [MAIN, "--node-id", "n", "--scheduler", "127.0.0.1:1", "--shuffle", "127.0.0.1:1", "--staging", "127.0.0.1:1"], { cwd: REPO, encoding: "utf8", env });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/failStage.stageId must be a non-negative integer/);
  });

  /** Starts the executor process against the given scheduler (comma-separated list allowed). */
  function startExecutor(schedulers: string, nodeId: string, extraArgs: string[] = []) {
    const args = [MAIN, "--scheduler", schedulers, "--shuffle", shuffle.address, "--staging", staging.address, "--slots", "1", ...extraArgs];
    const proc = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BALLAST_NODE_ID: nodeId, BALLAST_DATA_DIR: join(dir, nodeId) } });
    child = proc;
    const output = { stdout: "" };
    proc.stdout!.on("data", (chunk) => (output.stdout += chunk));
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    return { proc, output, exited };
  }

  async function newScheduler(): Promise<FakeScheduler> {
    const s = new FakeScheduler();
    await s.start();
    schedulers.push(s);
    return s;
  }

  const lastState = (scheduler: FakeScheduler, taskId: string) => scheduler.updatesFor(taskId).at(-1)?.state;

  it("runs tasks from the bundle in staging; a ShutdownExecutor kills running tasks, reports them and exits 0", async () => {
    scheduler = await newScheduler();
    // A dead address first: the leader lookup skips it.
    const { proc, output, exited } = startExecutor(`127.0.0.1:1,${scheduler.address}`, "node-p");

    const registration = await waitFor("registration", () => scheduler.registrations[0]);
    // --slots 1 plus the default queue: up to 32 tasks waiting per slot.
    expect(registration).toMatchObject({ nodeId: "node-p", slots: 33, queuedSlots: 32, shuffleAddress: shuffle.address, runningTaskIds: [], lastEpoch: 0 });
    expect(registration.executorId).toMatch(new RegExp(`^node-p-exec-${proc.pid}-[0-9a-z]+$`));

    const okPlan = await planOf(job, ["--mode", "ok"]);
    scheduler.launch(launchOf(job, okPlan, { taskId: "p-ok", partition: 0 }));
    const done = await waitFor("p-ok result", () => scheduler.updatesFor("p-ok").find((u) => u.state === TaskState.TASK_STATE_SUCCEEDED));
    expect(new Packr({ useRecords: false }).unpack(done.result!.records)).toEqual([0, 2, 4, 6, 8]);

    const spinPlan = await planOf(job, ["--mode", "spin", "--spinMs", "60000"]);
    scheduler.launch(launchOf(job, spinPlan, { taskId: "p-spin", partition: 0 }));
    await waitFor("p-spin running", () => scheduler.heartbeats.some((b) => b.runningTaskIds.includes("p-spin")));
    scheduler.shutdown("excluded executor");
    expect(await exited).toBe(0);
    expect(lastState(scheduler, "p-spin")).toBe(TaskState.TASK_STATE_KILLED);
    expect(output.stdout).toBe("");
    child = undefined;
  });

  it("on SIGTERM decommissions its node, lets the running task finish, and exits once the node is decommissioned", async () => {
    scheduler = await newScheduler();
    const { proc, exited } = startExecutor(scheduler.address, "node-d");
    await waitFor("registration", () => scheduler.registrations[0]);
    const spinPlan = await planOf(job, ["--mode", "spin", "--spinMs", "1500"]);
    scheduler.launch(launchOf(job, spinPlan, { taskId: "d-spin", partition: 0 }));
    await waitFor("d-spin running", () => scheduler.heartbeats.some((b) => b.runningTaskIds.includes("d-spin")));
    let exitedAt: number | undefined;
    void exited.then(() => (exitedAt = Date.now()));
    proc.kill("SIGTERM");

    const request = await waitFor("DecommissionNode", () => scheduler.decommissionRequests[0]);
    expect(request).toEqual({ nodeId: "node-d", deadlineMs: 120_000 });
    expect((await waitFor("d-spin finished", () => scheduler.updatesFor("d-spin").find((u) => u.state !== TaskState.TASK_STATE_RUNNING))).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    // Its task is done, but the node is still DECOMMISSIONING: the executor keeps polling and stays up.
    const polls = scheduler.listNodesCalls;
    await waitFor("more ListNodes polls", () => scheduler.listNodesCalls >= polls + 2);
    expect(exitedAt).toBeUndefined();
    const decommissionedAt = Date.now();
    scheduler.nodeStates.set("node-d", NodeState.NODE_STATE_DECOMMISSIONED);
    expect(await exited).toBe(0);
    expect(exitedAt!).toBeGreaterThanOrEqual(decommissionedAt);
    child = undefined;
  });

  it("a second SIGTERM during the decommission wait stops at once, killing the running task", async () => {
    scheduler = await newScheduler();
    const { proc, exited } = startExecutor(scheduler.address, "node-s", ["--decommission-wait", "5m"]);
    await waitFor("registration", () => scheduler.registrations[0]);
    scheduler.launch(launchOf(job, await planOf(job, ["--mode", "spin", "--spinMs", "60000"]), { taskId: "s-spin", partition: 0 }));
    await waitFor("s-spin running", () => scheduler.heartbeats.some((b) => b.runningTaskIds.includes("s-spin")));
    proc.kill("SIGTERM");
    expect(await waitFor("DecommissionNode", () => scheduler.decommissionRequests[0])).toEqual({ nodeId: "node-s", deadlineMs: 300_000 });
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(lastState(scheduler, "s-spin")).toBe(TaskState.TASK_STATE_KILLED);
    child = undefined;
  });

  it("on SIGTERM with the scheduler unreachable and no task running, exits 0 without waiting", async () => {
    scheduler = await newScheduler();
    const { proc, exited } = startExecutor(scheduler.address, "node-u");
    await waitFor("registration", () => scheduler.registrations[0]);
    await scheduler.crash();
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    child = undefined;
  });
});
