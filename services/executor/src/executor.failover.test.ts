import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@ballast/gen/common";
import { FailureKind, type TaskUpdate } from "@ballast/gen/scheduler";
import type { Plan } from "@ballast/common/plan";
import { FaultHook } from "./tasks/faults.js";
import type { TaskEvent } from "./tasks/taskEvents.js";
import { FakeScheduler, waitFor } from "./testing/fakeScheduler.js";
import { launchOf, startHarness, type Harness } from "./testing/harness.js";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "./testing/jobs.js";

const finalUpdate = (scheduler: FakeScheduler, taskId: string): Promise<TaskUpdate> =>
  waitFor(`final update of ${taskId}`, () => scheduler.updatesFor(taskId).find((u) => u.state !== TaskState.TASK_STATE_RUNNING));

/** An executor on a harness, with the modes job in its staging. */
async function harnessWithJob(options: Parameters<typeof startHarness>[0] = {}) {
  const h = await startHarness(options);
  const job = await bundleJob(h.dir, "modes", MODE_JOB);
  h.staging.addFile(job.bundlePath);
  const plans = { ok: await planOf(job, ["--mode", "ok"]), long: await planOf(job, ["--mode", "spin", "--spinMs", "60000"]) };
  return { h, job, plans };
}

describe("epoch fencing and failover", () => {
  let h: Harness;
  let job: BundledJob;
  let plans: { ok: Plan; long: Plan };
  let standby: FakeScheduler;
  let leader: FakeScheduler;

  beforeAll(async () => {
    standby = new FakeScheduler(1);
    leader = new FakeScheduler(1);
    await standby.start();
    await leader.start();
    standby.isLeader = false;
    standby.leaderAddress = leader.address;
    // The standby is listed first: GetLeader must lead the executor past it.
    ({ h, job, plans } = await harnessWithJob({ executor: { schedulerAddresses: [standby.address, leader.address] } }));
    h.scheduler = leader;
  });
  afterAll(async () => {
    await h.stop();
    await standby.crash();
    await leader.crash();
  });

  it("finds the leader through a standby and registers there", async () => {
    const registration = await waitFor("registration on the leader", () => leader.registrations[0]);
    expect(registration.lastEpoch).toBe(0);
    expect(registration.runningTaskIds).toEqual([]);
    expect(standby.registrations).toHaveLength(0);
    expect(standby.rejectedSessions).toBe(0);
    await waitFor("the leader's acknowledgement", () => h.executor.status().connected);
    expect(h.executor.status()).toMatchObject({ connected: true, schedulerEpoch: 1 });
  });

  it("after failover re-registers with the new leader, announcing its running tasks and last epoch; tasks keep running", async () => {
    leader.launch(launchOf(job, plans.long, { taskId: "long-1", partition: 0 }));
    await waitFor("long-1 running", () => leader.heartbeats.some((b) => b.runningTaskIds.includes("long-1")));
    await leader.crash();
    standby.epoch = 2;
    standby.isLeader = true;
    standby.leaderAddress = undefined;
    const registration = await waitFor("registration on the new leader", () => standby.registrations[0]);
    expect(registration.runningTaskIds).toEqual(["long-1"]);
    expect(registration.lastEpoch).toBe(1);
    await waitFor("the new leader's acknowledgement", () => h.executor.status().connected);
    expect(h.executor.status()).toMatchObject({ connected: true, schedulerEpoch: 2, runningTaskIds: ["long-1"] });
  });

  it("ignores launches, kills and shutdowns stamped with an older epoch", async () => {
    standby.launch(launchOf(job, plans.ok, { taskId: "stale-launch", partition: 0 }), 1);
    standby.kill("long-1", "stale kill", 1);
    standby.shutdown("stale shutdown", 1);
    standby.launch(launchOf(job, plans.ok, { taskId: "fresh-launch", partition: 0 }), 2);
    // Messages on a stream are handled in order: once the fresh launch finished, the stale ones were seen.
    expect((await finalUpdate(standby, "fresh-launch")).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(standby.updatesFor("stale-launch")).toEqual([]);
    expect(h.executor.status().runningTaskIds).toEqual(["long-1"]);
    expect(h.executor.status().connected).toBe(true);
    standby.kill("long-1", "current kill", 2);
    expect((await finalUpdate(standby, "long-1")).state).toBe(TaskState.TASK_STATE_KILLED);
  });

  it("drops a session with a scheduler of an older epoch and keeps looking for the leader", async () => {
    // The epoch-2 leader disappears; a deposed epoch-1 leader answers at its address until an epoch-3 one is up.
    const address = standby.address;
    await standby.crash();
    const deposed = new FakeScheduler(1);
    await deposed.start(address);
    await waitFor("a registration attempt on the deposed scheduler", () => deposed.registrations[0]);
    expect(deposed.registrations[0].lastEpoch).toBe(2);
    await waitFor("a second attempt (the first ack was refused)", () => deposed.registrations.length >= 2);
    expect(h.executor.status().connected).toBe(false);
    await deposed.crash();
    const next = new FakeScheduler(3);
    await next.start(address);
    standby = h.scheduler = next;
    await waitFor("registration at epoch 3", () => next.registrations[0]);
    await waitFor("connected at epoch 3", () => h.executor.status().connected && h.executor.status().schedulerEpoch === 3);
  });
});

describe("a scheduler that claims leadership but rejects sessions as a standby", () => {
  it("counts each rejection as a failed attempt, then reaches the leader once the lookup points there", async () => {
    const losing = new FakeScheduler(4);
    const leader = new FakeScheduler(5);
    await losing.start();
    await leader.start();
    losing.rejectSessions = true; // it just lost the lease: GetLeader still says "me"
    const h = await startHarness({ executor: { schedulerAddresses: [losing.address, "127.0.0.1:1"] } });
    try {
      await waitFor("repeated rejected attempts", () => losing.rejectedSessions >= 3);
      expect(h.executor.status().connected).toBe(false);
      losing.isLeader = false;
      losing.leaderAddress = leader.address;
      await waitFor("registration on the leader", () => leader.registrations[0]);
      // The ack reaches the executor a moment after the fake scheduler records the registration.
      await waitFor("the leader's acknowledgement", () => h.executor.status().connected);
      expect(h.executor.status()).toMatchObject({ connected: true, schedulerEpoch: 5 });
    } finally {
      await h.stop();
      await losing.crash();
      await leader.crash();
    }
  });
});

describe("test fault hook and task events file", () => {
  let h: Harness;
  let job: BundledJob;
  let plans: { ok: Plan; long: Plan };
  let eventsFile: string;

  beforeAll(async () => {
    const faults = new FaultHook({ failStage: { stageId: 1, message: "disk error" }, delayTaskMs: { stageId: 2, ms: 60_000 } }, "node-1");
    eventsFile = join(tmpdir(), `ballast-task-events-${process.pid}-${Date.now()}.jsonl`);
    ({ h, job, plans } = await harnessWithJob({ executor: { faults, taskEventsFile: eventsFile } }));
  });
  afterAll(async () => {
    await h.stop();
    rmSync(eventsFile, { force: true });
  });

  const events = (): TaskEvent[] => readFileSync(eventsFile, "utf8").trim().split("\n").map((line) => JSON.parse(line));

  it("fails tasks of the faulty stage as executor errors with the message, and runs other stages", async () => {
    h.scheduler.launch(launchOf(job, plans.ok, { taskId: "s1-p0", partition: 0, stageId: 1 }));
    h.scheduler.launch(launchOf(job, plans.ok, { taskId: "s0-p0", partition: 0, stageId: 0 }));
    const failed = await finalUpdate(h.scheduler, "s1-p0");
    expect(failed.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(failed.failure!.kind).toBe(FailureKind.FAILURE_KIND_EXECUTOR_ERROR);
    expect(failed.failure!.error!.message).toBe("disk error");
    expect((await finalUpdate(h.scheduler, "s0-p0")).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it("delays tasks of the slow stage, and a kill cuts the delay short", async () => {
    h.scheduler.launch(launchOf(job, plans.ok, { taskId: "s2-p1", partition: 1, stageId: 2 }));
    await waitFor("s2-p1 start event", () => events().some((e) => e.taskId === "s2-p1" && e.event === "start"));
    h.scheduler.launch(launchOf(job, plans.ok, { taskId: "s0-p1", partition: 1, stageId: 0 }));
    expect((await finalUpdate(h.scheduler, "s0-p1")).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(h.executor.status().runningTaskIds).toEqual(["s2-p1"]); // still sleeping, though a later task finished
    h.scheduler.kill("s2-p1");
    expect((await finalUpdate(h.scheduler, "s2-p1")).state).toBe(TaskState.TASK_STATE_KILLED);
  });

  it("appends one line per task start and end", async () => {
    await waitFor("end of s2-p1", () => events().some((e) => e.taskId === "s2-p1" && e.event === "end"));
    const of = (taskId: string) => events().filter((e) => e.taskId === taskId).map((e) => `${e.event}:${e.state}`);
    expect(of("s1-p0")).toEqual(["start:running", "end:failed"]);
    expect(of("s0-p0")).toEqual(["start:running", "end:succeeded"]);
    expect(of("s2-p1")).toEqual(["start:running", "end:killed"]);
    expect(events().find((e) => e.taskId === "s2-p1")).toMatchObject({ stageId: 2, partition: 1, attempt: 0, nodeId: "node-1", executorId: "node-1-exec-1" });
  });
});
