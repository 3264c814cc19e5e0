import { describe, expect, it } from "vitest";
import { isAlive, restartService } from "@ballast/cli/cluster";
import { runCli } from "../support/cluster.js";
import { expectFewRelaunches, expectNoFinishedTaskRerun, failoverRunner, leaderOf, schedulers, started, succeededAt } from "../support/failover.js";
import { killAndWait, service, waitUntil, type TaskEvent } from "../support/faults.js";

// The scheduler is SIGKILLed / SIGSTOPped for real while `ballast submit` waits on the job
// (test/support/failover.ts); executors and the client follow the new leader.

const runFailover = failoverRunner();

// A failover can legitimately wait out the executor reconnect window (30 s) before it reschedules,
// on top of cluster start and the lease: on a loaded 2-core machine that passes the 60 s default.
// The waits inside each test keep their own bounds; this only stops a slow, correct run being cut off.
describe("scheduler failover with work preserved", { timeout: 150_000 }, () => {
  it("SIGKILL the scheduler during the map stage and restart it: exact result, no finished task rerun", async () => {
    const { summary, events, history } = await runFailover("restart-map", { schedulers: 1, delay: { stageId: 0, ms: 700 } }, async (cluster, events) => {
      await waitUntil("two map tasks done", () => succeededAt(events(), 0).length >= 2);
      await killAndWait(leaderOf(cluster).pid);
      await restartService(cluster.dir, "scheduler");
    });
    expectNoFinishedTaskRerun(events);
    expectFewRelaunches(summary.stats.tasksLaunched);
    expect(history.filter((e) => e.type === "schedulerFailover")).toHaveLength(1);
  });

  it("SIGKILL the scheduler during the reduce stage: the standby takes over", async () => {
    const { summary, events, history } = await runFailover("standby-reduce", { schedulers: 2, delay: { stageId: 1, ms: 800 } }, async (cluster, events) => {
      await waitUntil("a reduce task running", () => started(events(), 1).length >= 1);
      process.kill(leaderOf(cluster).pid, "SIGKILL");
    });
    expectNoFinishedTaskRerun(events);
    expectFewRelaunches(summary.stats.tasksLaunched);
    const failover = history.find((e) => e.type === "schedulerFailover")!;
    expect(failover.epoch).toBe(2);
  });

  it("survives three scheduler crashes during one job", async () => {
    const { events, history } = await runFailover("three-crashes", { schedulers: 1, delay: { stageId: 0, ms: 1200 } }, async (cluster, events) => {
      for (let crash = 1; crash <= 3; crash++) {
        await waitUntil(`map progress before crash ${crash}`, () => succeededAt(events(), 0).length >= 2 * crash);
        await killAndWait(leaderOf(cluster).pid);
        const restarted = await restartService(cluster.dir, "scheduler");
        // It serves at once but leads only once the dead leader's lease expires.
        await waitUntil(`the restarted scheduler to lead (crash ${crash})`, async () => (await runCli(["jobs", "--master", restarted.address])).code === 0, 30_000);
      }
    });
    expectNoFinishedTaskRerun(events);
    expect(history.filter((e) => e.type === "schedulerFailover").map((e) => e.epoch)).toEqual([2, 3, 4]);
  });

  it("SIGKILL the scheduler and one executor together: only that executor's unfinished work reruns", async () => {
    let inFlight: TaskEvent[] = [];
    const { summary, events } = await runFailover("with-executor", { schedulers: 2, delay: { stageId: 0, ms: 900 } }, async (cluster, events) => {
      await waitUntil("a map task running on node-1 after one finished", () => succeededAt(events(), 0).length >= 1 && started(events(), 0).some((s) => s.nodeId === "node-1" && !events().some((e) => e.event === "end" && e.taskId === s.taskId)));
      inFlight = started(events(), 0).filter((s) => s.nodeId === "node-1" && !events().some((e) => e.event === "end" && e.taskId === s.taskId));
      process.kill(leaderOf(cluster).pid, "SIGKILL");
      process.kill(service(cluster, "executor", "node-1").pid, "SIGKILL");
    });
    expectNoFinishedTaskRerun(events);
    expect(inFlight.length).toBeGreaterThan(0);
    // Every partition that ran twice had first run on the killed executor (a result it produced
    // just as the scheduler died is lost with it, and counts as its unfinished work).
    const starts = new Map<string, TaskEvent[]>();
    for (const e of events.filter((x) => x.event === "start")) starts.set(`${e.stageId}/${e.partition}`, [...(starts.get(`${e.stageId}/${e.partition}`) ?? []), e]);
    const rerun = [...starts.values()].filter((list) => list.length > 1);
    for (const list of rerun) expect(list[0]!.nodeId, `partition ${list[0]!.stageId}/${list[0]!.partition} first ran on node-1`).toBe("node-1");
    expect(rerun.length).toBeGreaterThanOrEqual(inFlight.length);
    // Plus at most one launch that was on its way to node-1 (one slot) when it died, and never started there.
    expect(summary.stats.tasksLaunched).toBeGreaterThanOrEqual(12 + rerun.length);
    expect(summary.stats.tasksLaunched).toBeLessThanOrEqual(12 + rerun.length + 1);
  });

  it("a paused leader (SIGSTOP past its lease) steps down when continued, and its stale commands are rejected", async () => {
    const { summary, events } = await runFailover("sigstop", { schedulers: 2, delay: { stageId: 0, ms: 700 } }, async (cluster, events) => {
      await waitUntil("two map tasks done", () => succeededAt(events(), 0).length >= 2);
      const old = leaderOf(cluster);
      process.kill(old.pid, "SIGSTOP");
      const standby = schedulers(cluster).find((s) => s.pid !== old.pid)!;
      await waitUntil("the standby to take over", async () => (await runCli(["jobs", "--master", standby.address])).code === 0, 30_000);
      process.kill(old.pid, "SIGCONT");
      await waitUntil("the old leader to step down", () => !isAlive(old.pid), 15_000);
    });
    expectNoFinishedTaskRerun(events);
    expect(summary.status).toBe("succeeded");
    expectFewRelaunches(summary.stats.tasksLaunched);
  });
});
