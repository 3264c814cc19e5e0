import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNode, isAlive, readCluster } from "@ballast/cli/cluster";
import { onLeader } from "@ballast/clients/scheduler";
import { call } from "@ballast/common/grpc";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { jobHistory, killNode, readTaskEvents, service, waitUntil, type TaskEvent } from "../support/faults.js";
import { prepareCorpus, readCountsDir } from "../support/wordcount.js";

let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-decom-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 4 * 1024 * 1024, 17);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function nodeState(dir: string, nodeId: string): Promise<string | undefined> {
  const res = await runCli(["nodes", "--dir", dir, "--json"]);
  if (res.code !== 0) return undefined;
  return (JSON.parse(res.stdout) as Array<{ nodeId: string; state: string }>).find((n) => n.nodeId === nodeId)?.state;
}

async function withJob(name: string, options: { nodes: number; delay: { stageId: number; ms: number }; conf?: string[] }, during: (cluster: TestCluster, events: () => TaskEvent[]) => Promise<void>) {
  const eventsFile = join(work, `${name}.events`);
  const cluster = await startTestCluster({ nodes: options.nodes, slots: 1, env: { BALLAST_TEST_FAULTS: JSON.stringify({ delayTaskMs: options.delay }), BALLAST_TEST_TASK_EVENTS_FILE: eventsFile } });
  try {
    const out = join(work, `${name}-out`);
    const submission = runCli(["submit", "--dir", cluster.dir, "--json", ...(options.conf ?? []).flatMap((c) => ["--conf", c]), "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href]);
    await during(cluster, () => readTaskEvents(eventsFile));
    const res = await submission;
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    expect(readCountsDir(out).counts).toEqual(expected);
    return { summary, history: await jobHistory(cluster, summary.jobId), events: readTaskEvents(eventsFile) };
  } finally {
    await cluster.stop();
  }
}

/** Decommissions through the scheduler API directly (faster than a CLI process when timing matters). */
async function decommission(cluster: TestCluster, nodeId: string, deadlineMs: number): Promise<void> {
  await onLeader(cluster.scheduler.split(","), (c) => call(c.decommissionNode.bind(c), { nodeId, deadlineMs }));
}

const succeeded = (events: TaskEvent[], stageId: number) => events.filter((e) => e.event === "end" && e.state === "succeeded" && e.stageId === stageId);
const started = (events: TaskEvent[], stageId: number) => events.filter((e) => e.event === "start" && e.stageId === stageId);

describe("graceful decommissioning", () => {
  it("decommissioned mid-map, migrated, then killed: zero recomputed tasks and no new tasks there", async () => {
    let requestedAt = 0;
    const { summary, events } = await withJob("migrate", { nodes: 3, delay: { stageId: 0, ms: 700 } }, async (cluster, events) => {
      await waitUntil("two map tasks done", () => succeeded(events(), 0).length >= 2);
      expect((await runCli(["decommission", "node-1", "--dir", cluster.dir, "--deadline", "60s"])).code).toBe(0);
      requestedAt = events().length;
      await waitUntil("node-1 decommissioned", async () => (await nodeState(cluster.dir, "node-1")) === "decommissioned", 60_000);
      killNode(cluster, "node-1");
    });
    expect(summary.stats.recomputedTasks).toBe(0);
    // A task launched just before the request may still start; nothing after node-1 was drained.
    const lateStarts = events.slice(requestedAt).filter((e) => e.event === "start" && e.nodeId === "node-1");
    expect(lateStarts.length).toBeLessThanOrEqual(1);
  });

  it("scale-in of two of four nodes with too short a deadline, then killed: one resubmission recomputes what was lost", async () => {
    const { summary, history } = await withJob("scale-in", { nodes: 4, delay: { stageId: 0, ms: 900 } }, async (cluster, events) => {
      await waitUntil("map outputs on node-1 and node-2", () => ["node-1", "node-2"].every((n) => succeeded(events(), 0).some((e) => e.nodeId === n)));
      await Promise.all(["node-1", "node-2"].map((n) => decommission(cluster, n, 1)));
      killNode(cluster, "node-1");
      killNode(cluster, "node-2");
    });
    expect(summary.stats.lostMapOutputs).toBeGreaterThan(0);
    expect(summary.stats.recomputedTasks).toBe(summary.stats.lostMapOutputs);
    expect(history.filter((e) => e.type === "stageResubmitted" && e.stageId === 0).length).toBeLessThanOrEqual(1);
  });

  it("survives five decommission-and-kill rounds with maxConsecutiveAttempts=2, fresh nodes keeping capacity", async () => {
    const { summary } = await withJob("storm", { nodes: 3, delay: { stageId: 0, ms: 1500 }, conf: ["ballast.stage.maxConsecutiveAttempts=2"] }, async (cluster, events) => {
      await waitUntil("the map stage running", () => started(events(), 0).length >= 1);
      for (let round = 0; round < 5; round++) {
        const fresh = await addNode(cluster.dir, { slots: 1 });
        const victim = readCluster(cluster.dir).services.find((s) => s.name === "executor" && s.nodeId !== fresh && isAlive(s.pid))!.nodeId!;
        await runCli(["decommission", victim, "--dir", cluster.dir, "--deadline", "1ms"]);
        killNode(readCluster(cluster.dir), victim);
      }
    });
    expect(summary.status).toBe("succeeded");
  });

  it("SIGTERM to an executor drains its node and hands over before the process exits", async () => {
    const { summary } = await withJob("sigterm", { nodes: 3, delay: { stageId: 0, ms: 700 } }, async (cluster, events) => {
      await waitUntil("two map tasks done", () => succeeded(events(), 0).length >= 2);
      const executor = service(cluster, "executor", "node-1");
      process.kill(executor.pid, "SIGTERM");
      await waitUntil("node-1's executor to exit", () => !isAlive(executor.pid), 60_000);
      expect(await nodeState(cluster.dir, "node-1")).toBe("decommissioned");
      process.kill(service(cluster, "shuffle", "node-1").pid, "SIGKILL");
    });
    expect(summary.stats.recomputedTasks).toBe(0);
  });

  it("a recommissioned node receives tasks again", async () => {
    const eventsFile = join(work, "recommission.events");
    const cluster = await startTestCluster({ nodes: 2, slots: 1, env: { BALLAST_TEST_TASK_EVENTS_FILE: eventsFile } });
    try {
      expect((await runCli(["decommission", "node-1", "--dir", cluster.dir, "--deadline", "60s"])).code).toBe(0);
      await waitUntil("node-1 decommissioned", async () => (await nodeState(cluster.dir, "node-1")) === "decommissioned", 30_000);
      const rec = await runCli(["recommission", "node-1", "--dir", cluster.dir]);
      expect(rec.code, rec.stderr).toBe(0);
      expect(await nodeState(cluster.dir, "node-1")).toBe("active");
      const res = await runCli(["submit", "--dir", cluster.dir, "--json", "test/fixtures/collect-count.ts", "--", "--mode", "count"]);
      expect(res.code, res.stderr).toBe(0);
      expect(readTaskEvents(eventsFile).some((e) => e.event === "start" && e.nodeId === "node-1")).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});
