import { describe, expect, it } from "vitest";
import { jobView, listJobs } from "./index.js";
import { cluster, Harness } from "./testing/harness.js";
import { singleStagePlan, threeStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

const evictedIn = (commands: Command[]) => commands.flatMap((command) => (command.type === "jobEvicted" ? [command.jobId] : []));

/** Runs a one-task collect job to its end. */
function runJob(h: Harness, jobId: string): Command[] {
  h.submit(jobId, singleStagePlan(1));
  return h.succeed(`${jobId}.0.0.0.0`);
}

describe("ended jobs leave the scheduler's memory", () => {
  it("keeps an ended job for ballast.scheduler.jobRetention, then evicts it and its timers", () => {
    const h = cluster(2, 2, { "ballast.scheduler.jobRetention": "10s" });
    runJob(h, "j");
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
    expect(evictedIn(h.tick(9_999))).toEqual([]);
    expect(evictedIn(h.tick(1))).toEqual(["j"]);
    expect(jobView(h.state, "j")).toBeUndefined();
    expect(h.state.endedJobs).toEqual([]);
    expect(h.state.timers.filter((timer) => timer.key.startsWith("j"))).toEqual([]);
  });

  it("evicts the oldest ended jobs at once beyond ballast.scheduler.retainedJobs", () => {
    const h = cluster(2, 2, { "ballast.scheduler.retainedJobs": "2" });
    runJob(h, "a");
    runJob(h, "b");
    expect(evictedIn(runJob(h, "c"))).toEqual(["a"]);
    expect(listJobs(h.state).map((job) => job.jobId)).toEqual(["b", "c"]);
  });

  it("keeps a job whose killed tasks still hold slots until they report, then evicts it", () => {
    const h = cluster(2, 2, { "ballast.scheduler.jobRetention": "1s" });
    h.submit("j", threeStagePlan());
    h.send({ type: "cancelJob", jobId: "j", reason: "user asked" });
    expect(evictedIn(h.tick(1_000))).toEqual([]); // its killed tasks' reports still need the job
    for (const taskId of [...h.state.tasks.keys()]) {
      h.send({ type: "taskUpdate", executorId: h.state.tasks.get(taskId)!.executorId, taskId, state: "killed" });
    }
    expect(evictedIn(h.tick(1_000))).toEqual(["j"]);
  });

  it("holds no more after 300 jobs than after 10", () => {
    const h = cluster(2, 2, { "ballast.scheduler.jobRetention": "1s", "ballast.scheduler.retainedJobs": "5" });
    const held = () => ({ jobs: h.state.jobs.size, ended: h.state.endedJobs.length, timers: h.state.timers.length, tasks: h.state.tasks.size });
    for (let i = 0; i < 10; i++) runJob(h, `job-${i}`);
    h.tick(1_000);
    const after10 = held();
    for (let i = 10; i < 300; i++) runJob(h, `job-${i}`);
    h.tick(1_000);
    expect(held()).toEqual(after10);
    expect(after10.jobs).toBe(0);
  });
});
