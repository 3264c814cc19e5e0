import { closeSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restartService } from "@ballast/cli/cluster";
import { BUCKETS } from "../../examples/chained-shuffles.js";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { historyEvents, jobHistory, killNode, readTaskEvents, service, waitUntil, type TaskEvent } from "../support/faults.js";
import { prepareCorpus, readCountsDir } from "../support/wordcount.js";

// Real processes, real SIGKILL/SIGSTOP. Faults are timed by the executors' task events
// (BALLAST_TEST_TASK_EVENTS_FILE), and stages are slowed by the fault hook so they land mid-stage.

let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-recovery-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 6 * 1024 * 1024, 5);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Scenario {
  nodes: number;
  /** Each task of this stage waits `ms` before running, so faults land mid-stage. */
  delay: { stageId: number; ms: number };
  conf?: string[];
  job?: string[];
}

/** Starts a cluster, submits the job in the background, injects the fault, returns the outcome. */
async function runScenario(name: string, scenario: Scenario, inject: (cluster: TestCluster, events: () => TaskEvent[]) => Promise<void>) {
  const eventsFile = join(work, `${name}.events`);
  const faults = { delayTaskMs: scenario.delay };
  const cluster = await startTestCluster({
    nodes: scenario.nodes,
    slots: 1,
    schedulerConf: ["ballast.executor.heartbeatTimeout=2s", ...(scenario.conf ?? [])],
    env: { BALLAST_TEST_FAULTS: JSON.stringify(faults), BALLAST_TEST_TASK_EVENTS_FILE: eventsFile },
  });
  try {
    const out = join(work, `${name}-out`);
    const args = scenario.job ?? ["examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(out).href];
    const submission = runCli(["submit", "--dir", cluster.dir, "--json", ...args]);
    await inject(cluster, () => readTaskEvents(eventsFile));
    const res = await submission;
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    const history = await jobHistory(cluster, summary.jobId);
    const clusterHistory = await historyEvents(cluster, "");
    return { summary, history, clusterHistory, out, cluster, events: readTaskEvents(eventsFile) };
  } finally {
    await cluster.stop();
  }
}

const started = (events: TaskEvent[], stageId: number, nodeId?: string) => events.filter((e) => e.event === "start" && e.stageId === stageId && (!nodeId || e.nodeId === nodeId));
const succeeded = (events: TaskEvent[], stageId: number, nodeId?: string) => events.filter((e) => e.event === "end" && e.state === "succeeded" && e.stageId === stageId && (!nodeId || e.nodeId === nodeId));
const resubmissions = (history: Array<Record<string, any>>, stageId: number) => history.filter((e) => e.type === "stageResubmitted" && e.stageId === stageId);

describe("lineage recovery with real processes", () => {
  it("SIGKILL an executor during the map stage: exact result, in-flight tasks rerun, no map output recomputed", async () => {
    const { summary, history, out } = await runScenario("exec-map", { nodes: 2, delay: { stageId: 0, ms: 700 } }, async (cluster, events) => {
      await waitUntil("a map task done and one running on node-1", () => succeeded(events(), 0).length >= 1 && started(events(), 0, "node-1").length > succeeded(events(), 0, "node-1").length);
      process.kill(service(cluster, "executor", "node-1").pid, "SIGKILL");
    });
    expect(readCountsDir(out).counts).toEqual(expected);
    expect(history.filter((e) => e.type === "taskResubmitted").length).toBeGreaterThanOrEqual(1);
    expect(summary.stats.recomputedTasks).toBe(0);
    expect(summary.stats.lostMapOutputs).toBe(0);
  });

  it("SIGKILL an executor during the reduce stage: no map task recomputed", async () => {
    const { summary, history, out } = await runScenario("exec-reduce", { nodes: 2, delay: { stageId: 1, ms: 800 } }, async (cluster, events) => {
      await waitUntil("a reduce task running on node-1", () => started(events(), 1, "node-1").length >= 1);
      process.kill(service(cluster, "executor", "node-1").pid, "SIGKILL");
    });
    expect(readCountsDir(out).counts).toEqual(expected);
    expect(summary.stats.recomputedTasks).toBe(0);
    expect(resubmissions(history, 0)).toEqual([]);
  });

  it("SIGKILL a node during the reduce stage: exactly its map outputs recomputed, in one extra map stage attempt", async () => {
    let lostMaps = 0;
    const { summary, history, out } = await runScenario("node-reduce", { nodes: 2, delay: { stageId: 1, ms: 800 } }, async (cluster, events) => {
      await waitUntil("the reduce stage running", () => started(events(), 1).length >= 1);
      lostMaps = new Set(succeeded(events(), 0, "node-1").map((e) => e.partition)).size;
      killNode(cluster, "node-1");
    });
    expect(readCountsDir(out).counts).toEqual(expected);
    expect(lostMaps).toBeGreaterThan(0);
    expect(summary.stats.lostMapOutputs).toBe(lostMaps);
    expect(summary.stats.recomputedTasks).toBe(lostMaps);
    expect(resubmissions(history, 0)).toHaveLength(1);
  });

  it("SIGKILL two of four nodes at once during the reduce stage: still one resubmission", async () => {
    let lostMaps = 0;
    const { summary, history, out } = await runScenario("two-nodes", { nodes: 4, delay: { stageId: 1, ms: 800 } }, async (cluster, events) => {
      await waitUntil("the reduce stage running", () => started(events(), 1).length >= 1);
      lostMaps = new Set([...succeeded(events(), 0, "node-1"), ...succeeded(events(), 0, "node-2")].map((e) => e.partition)).size;
      killNode(cluster, "node-1");
      killNode(cluster, "node-2");
    });
    expect(readCountsDir(out).counts).toEqual(expected);
    expect(summary.stats.recomputedTasks).toBe(lostMaps);
    expect(resubmissions(history, 0)).toHaveLength(1);
  });

  it("a shuffle service restarted mid-reduce is ridden out without recomputation", async () => {
    // Enough fetch retries to outlast a process restart even on a loaded 2-core machine.
    const { summary, out } = await runScenario("shuffle-restart", { nodes: 2, delay: { stageId: 1, ms: 400 }, conf: ["ballast.shuffle.io.maxRetries=8"] }, async (cluster, events) => {
      await waitUntil("the reduce stage running", () => started(events(), 1).length >= 1);
      process.kill(service(cluster, "shuffle", "node-1").pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 500)); // down long enough that reducers hit it
      await restartService(cluster.dir, "shuffle", "node-1");
    });
    expect(readCountsDir(out).counts).toEqual(expected);
    expect(summary.stats.recomputedTasks).toBe(0);
    expect(summary.stats.lostMapOutputs).toBe(0);
  });

  it("a corrupt block recomputes only that map output", async () => {
    const { summary, out } = await runScenario("corrupt", { nodes: 2, delay: { stageId: 1, ms: 1500 } }, async (cluster, events) => {
      await waitUntil("the reduce stage running", () => started(events(), 1).length >= 1);
      corruptOneDataFile(service(cluster, "shuffle", "node-1").dataDir);
    });
    expect(readCountsDir(out).counts).toEqual(expected);
    expect(summary.stats.lostMapOutputs).toBe(1);
    expect(summary.stats.recomputedTasks).toBe(1);
  });

  it("a three-shuffle job that loses a node in its last stage recomputes only what each ancestor lost", async () => {
    const n = 20_000;
    const { summary } = await runScenario("chained", { nodes: 3, delay: { stageId: 5, ms: 900 }, job: ["examples/chained-shuffles.ts", "--", "--n", String(n)] }, async (cluster, events) => {
      await waitUntil("the last stage running", () => started(events(), 5).length >= 1);
      killNode(cluster, "node-1");
    });
    const reference = Array.from({ length: BUCKETS }, (_, bucket) => {
      let total = 0;
      for (let i = bucket; i < n; i += BUCKETS) total += bucket;
      const sizeClass = String(total).length;
      return [bucket, [sizeClass, `${sizeClass}-digit total`]];
    });
    expect([...(summary.result as [number, unknown][])].sort((a, b) => a[0] - b[0])).toEqual(reference);
    expect(summary.stats.lostMapOutputs).toBeGreaterThan(0);
    expect(summary.stats.recomputedTasks).toBe(summary.stats.lostMapOutputs);
  });

  it("a hung executor (SIGSTOP) is declared lost, its tasks run elsewhere, and its late results are ignored", async () => {
    const { out, clusterHistory } = await runScenario("sigstop", { nodes: 2, delay: { stageId: 1, ms: 600 } }, async (cluster, events) => {
      await waitUntil("a reduce task running on node-1", () => started(events(), 1, "node-1").length >= 1);
      const pid = service(cluster, "executor", "node-1").pid;
      process.kill(pid, "SIGSTOP");
      const stuck = started(events(), 1, "node-1").find((s) => !events().some((e) => e.event === "end" && e.taskId === s.taskId))!;
      await waitUntil("node-1's stuck reduce task rerun elsewhere", () => started(events(), 1, "node-2").some((e) => e.partition === stuck.partition), 30_000);
      process.kill(pid, "SIGCONT");
    });
    const { counts } = readCountsDir(out); // throws if a partition was committed twice
    expect(counts).toEqual(expected);
    expect(clusterHistory.map((e) => e.type)).toContain("executorRemoved");
  });
});

/** Flips one byte in the middle of the first non-empty map output data file under a shuffle data dir. */
function corruptOneDataFile(dataDir: string): void {
  const files = readdirSync(join(dataDir, "data"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".data"))
    .map((f) => join(dataDir, "data", f))
    .filter((f) => statSync(f).size > 0)
    .sort();
  const file = files[0];
  if (!file) throw new Error("no map output on disk to corrupt");
  const fd = openSync(file, "r+");
  try {
    const at = Math.floor(statSync(file).size / 2);
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}
