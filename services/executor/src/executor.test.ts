import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutorServiceClient } from "@ballast/gen/executor";
import { TaskState } from "@ballast/gen/common";
import { FailureKind } from "@ballast/gen/scheduler";
import { call, createClient } from "@ballast/common/grpc";
import { FakeScheduler, waitFor } from "./testing/fakeScheduler.js";
import { launchOf, startHarness, type Harness } from "./testing/harness.js";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "./testing/jobs.js";

const unpack = (bytes: Uint8Array) => new Packr({ useRecords: false }).unpack(bytes);

describe("executor session and task lifecycle", () => {
  let h: Harness;
  let job: BundledJob;

  beforeAll(async () => {
    h = await startHarness();
    job = await bundleJob(h.dir, "modes", MODE_JOB);
    h.staging.addFile(job.bundlePath);
  });
  afterAll(() => h.stop());

  const spillDirs = () => readdirSync(join(h.dir, "executor", "spill"));

  const finalUpdate = (taskId: string) =>
    waitFor(`final update of ${taskId}`, () => h.scheduler.updatesFor(taskId).find((u) => u.state !== TaskState.TASK_STATE_RUNNING));

  async function launchMode(taskId: string, mode: string, partition = 0, extra: string[] = []) {
    const plan = await planOf(job, ["--mode", mode, ...extra]);
    h.scheduler.launch(launchOf(job, plan, { taskId, partition }));
  }

  it("registers with its slots, node, shuffle address and status address", async () => {
    const registration = await waitFor("registration", () => h.scheduler.registrations[0]);
    expect(registration).toMatchObject({ executorId: "node-1-exec-1", nodeId: "node-1", host: "127.0.0.1", slots: 2, shuffleAddress: h.shuffle.address, executorAddress: h.executor.address });
  });

  it("keeps heartbeating while a task busy-loops, then reports its result", async () => {
    await launchMode("spin", "spin", 1, ["--spinMs", "1500"]);
    const update = await finalUpdate("spin");
    expect(update.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(unpack(update.result!.records)).toEqual([10, 12, 14, 16, 18]);
    expect(update.metrics!.recordsOut).toBe(5);
    const beats = h.scheduler.heartbeats.filter((b) => b.runningTaskIds.includes("spin"));
    expect(beats.length).toBeGreaterThanOrEqual(5); // every 100ms over a 1.5s busy loop
    // Only the final update: while it ran, the heartbeats above named it (no "running" update, which the scheduler drops).
    expect(h.scheduler.updatesFor("spin").map((u) => u.state)).toEqual([TaskState.TASK_STATE_SUCCEEDED]);
    expect(h.staging.downloads).toBe(1);
  });

  it("reports a user exception as a user error with the user's stack frame", async () => {
    await launchMode("throw", "throw");
    const update = await finalUpdate("throw");
    expect(update.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(update.failure!.kind).toBe(FailureKind.FAILURE_KIND_USER_ERROR);
    expect(update.failure!.error!.message).toBe("boom at three");
    expect(update.failure!.error!.stack).toMatch(/modes\.ts:4:\d+/);
    expect(spillDirs()).not.toContain("throw");
  });

  it("reports a crashed worker as an executor error and keeps serving", async () => {
    await launchMode("crash", "crash");
    const update = await finalUpdate("crash");
    expect(update.failure!.kind).toBe(FailureKind.FAILURE_KIND_EXECUTOR_ERROR);
    await launchMode("after-crash", "ok");
    expect((await finalUpdate("after-crash")).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it("kills a task on request and reports it killed", async () => {
    await launchMode("long", "spin", 0, ["--spinMs", "60000"]);
    await waitFor("task running", () => h.executor.status().runningTaskIds.includes("long"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(spillDirs()).not.toContain("long"); // it reads no shuffle, so nothing of it can spill: no dir
    h.scheduler.kill("long", "stage cancelled");
    const update = await finalUpdate("long");
    expect(update.state).toBe(TaskState.TASK_STATE_KILLED);
    expect(update.failure!.kind).toBe(FailureKind.FAILURE_KIND_KILLED);
    expect(spillDirs()).not.toContain("long"); // spills never outlive their task
  });

  it("fails a launch it cannot understand instead of crashing", async () => {
    const plan = await planOf(job, ["--mode", "ok"]);
    h.scheduler.launch({ ...launchOf(job, plan, { taskId: "bad", partition: 0 }), bundleDigest: "../../etc/passwd" });
    const update = await finalUpdate("bad");
    expect(update.failure!.kind).toBe(FailureKind.FAILURE_KIND_EXECUTOR_ERROR);
    expect(update.failure!.error!.message).toMatch(/invalid bundle digest/);
  });

  it("serves its status over ExecutorService", async () => {
    const client = createClient(ExecutorServiceClient, h.executor.address);
    try {
      const status = await call(client.getExecutorStatus.bind(client), {});
      expect(status).toMatchObject({ executorId: "node-1-exec-1", nodeId: "node-1", slots: 2, connected: true, schedulerEpoch: 1, bundlesCached: 1 });
      expect(status.tasksCompleted).toBeGreaterThanOrEqual(4);
    } finally {
      client.close();
    }
  });

  it("survives a scheduler crash: reconnects, re-registers and delivers results finished meanwhile", async () => {
    const address = h.scheduler.address;
    await launchMode("during-outage", "spin", 0, ["--spinMs", "300"]);
    await waitFor("task running", () => h.executor.status().runningTaskIds.includes("during-outage"));
    await h.scheduler.crash();
    await waitFor("task done while disconnected", () => h.executor.status().tasksCompleted > 0 && !h.executor.status().runningTaskIds.includes("during-outage"));
    expect(h.executor.status().connected).toBe(false);
    const restarted = new FakeScheduler(2);
    await restarted.start(address);
    h.scheduler = restarted;
    await waitFor("re-registration", () => restarted.registrations[0]);
    const update = await waitFor("resent result", () => restarted.updatesFor("during-outage")[0]);
    expect(update.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    await waitFor("epoch 2", () => h.executor.status().schedulerEpoch === 2 && h.executor.status().connected);
  });
});
