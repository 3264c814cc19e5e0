import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@ballast/gen/common";
import { waitFor } from "./testing/fakeScheduler.js";
import { launchOf, startHarness, type Harness } from "./testing/harness.js";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "./testing/jobs.js";

describe("take-back: revoking queued tasks", () => {
  let h: Harness;
  let job: BundledJob;

  beforeAll(async () => {
    h = await startHarness({ slots: 1 });
    job = await bundleJob(h.dir, "modes", MODE_JOB);
    h.staging.addFile(job.bundlePath);
  });
  afterAll(() => h.stop());

  async function launchMode(taskId: string, mode: string, extra: string[] = []) {
    const plan = await planOf(job, ["--mode", mode, ...extra]);
    h.scheduler.launch(launchOf(job, plan, { taskId, partition: 0 }));
  }

  const held = () => h.executor.status().runningTaskIds;

  it("drops a task still waiting for a worker and never reports it; a running one answers started and runs on", async () => {
    await launchMode("busy", "spin", ["--spinMs", "1500"]);
    await waitFor("busy running", () => held().includes("busy"));
    await launchMode("waiting", "ok");
    await waitFor("waiting held", () => held().includes("waiting"));
    await new Promise((resolve) => setTimeout(resolve, 200)); // past its preparation, into the worker pool's queue
    h.scheduler.revoke(["waiting", "busy", "never-launched"]);
    const answer = await waitFor("revoke answer", () => h.scheduler.revokeAnswers[0]);
    expect(answer).toEqual({ revokedTaskIds: ["waiting"], startedTaskIds: ["busy", "never-launched"] });
    expect(held()).not.toContain("waiting");
    const busy = await waitFor("busy's end", () => h.scheduler.updatesFor("busy")[0]);
    expect(busy.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    await launchMode("after", "ok"); // the slot freed by busy goes on to new work, not to the revoked task
    await waitFor("after's end", () => h.scheduler.updatesFor("after")[0]);
    expect(h.scheduler.updatesFor("waiting")).toEqual([]);
  });

  it("answers started for a task that already finished, after its final update", async () => {
    await launchMode("quick", "ok");
    await waitFor("quick's end", () => h.scheduler.updatesFor("quick")[0]);
    h.scheduler.revoke(["quick"]);
    expect(await waitFor("second answer", () => h.scheduler.revokeAnswers[1])).toEqual({ revokedTaskIds: [], startedTaskIds: ["quick"] });
    expect(h.scheduler.updatesFor("quick")).toHaveLength(1);
  });
});
