import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive, readCluster, restartService, type ServiceRecord } from "@ballast/cli/cluster";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { historyEvents, killAndWait, readTaskEvents, service, waitUntil, type TaskEvent } from "../support/faults.js";
import { prepareCorpus, readCountsDir } from "../support/wordcount.js";

// The scheduler is SIGKILLed / SIGSTOPped for real while `ballast submit` waits on the job.
// A short lease keeps the tests quick; executors and the client follow the new leader.

let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-failover-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 4 * 1024 * 1024, 9);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const LEASE = "ballast.scheduler.leaseTimeout=2s";
const RECONNECT = "ballast.scheduler.recovery.executorReconnectTimeout=5s";

async function runFailover(name: string, options: { schedulers: number; delay: { stageId: number; ms: number } }, inject: (cluster: TestCluster, events: () => TaskEvent[]) => Promise<void>) {
  const eventsFile = join(work, `${name}.events`);
  const cluster = await startTestCluster({
    nodes: 2,
    slots: 1,
    schedulers: options.schedulers,
    schedulerConf: [LEASE, RECONNECT],
    env: { BALLAST_TEST_FAULTS: JSON.stringify({ delayTaskMs: options.delay }), BALLAST_TEST_TASK_EVENTS_FILE: eventsFile },
  });
  try {
    const out = join(work, `${name}-out`);
    const submission = runCli(["submit", "--dir", cluster.dir, "--json", "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href]);
    await inject(cluster, () => readTaskEvents(eventsFile));
    const res = await submission;
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    expect(readCountsDir(out).counts).toEqual(expected); // also fails if a partition was committed twice
    const history = await historyEvents(cluster, "");
    return { summary, events: readTaskEvents(eventsFile), history, cluster: readCluster(cluster.dir) };
  } finally {
    await cluster.stop();
  }
}

const schedulers = (cluster: TestCluster): ServiceRecord[] => readCluster(cluster.dir).services.filter((s) => s.name === "scheduler");
const leaderOf = (cluster: TestCluster) => schedulers(cluster).find((s) => isAlive(s.pid))!;
const succeededAt = (events: TaskEvent[], stageId: number) => events.filter((e) => e.event === "end" && e.state === "succeeded" && e.stageId === stageId);
const started = (events: TaskEvent[], stageId: number) => events.filter((e) => e.event === "start" && e.stageId === stageId);

/**
 * 12 tasks, plus at most one relaunch per slot (2): a launch sent in the instant the scheduler
 * died may never reach its executor and is sent again. Finished work is checked separately.
 */
function expectFewRelaunches(tasksLaunched: number) {
  expect(tasksLaunched).toBeGreaterThanOrEqual(12);
  expect(tasksLaunched).toBeLessThanOrEqual(14);
}

/** No (stage, partition) that had succeeded was started again. */
function expectNoFinishedTaskRerun(events: TaskEvent[]) {
  const done = new Set<string>();
  for (const e of events) {
    const key = `${e.stageId}/${e.partition}`;
    if (e.event === "start") expect(done.has(key), `finished task ${key} ran again`).toBe(false);
    if (e.event === "end" && e.state === "succeeded") done.add(key);
  }
}

describe("scheduler failover with work preserved", () => {
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
