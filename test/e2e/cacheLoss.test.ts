import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, spawnCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { keptIn, succeededIn } from "../support/cached.js";
import { killAndWait, readTaskEvents, service, waitUntil, type TaskEvent } from "../support/faults.js";
import { GATE_SOURCE } from "../support/gate.js";
import { prepareCorpus } from "../support/wordcount.js";

// Memory copies of a dataset that sits after a shuffle (word counts) on a real
// cluster: later actions skip the stages below it, and when an executor holding
// some of its partitions is SIGKILLed between actions, the next action runs the
// skipped stages again and computes only the lost partitions.

const PARTITIONS = 4;

const PROGRAM = `
import { app } from "ballast";
${GATE_SOURCE}
export default app("counts-in-memory", async (ctx) => {
  const counts = ctx.textFile(ctx.arg("input"), { minPartitions: ${PARTITIONS} })
    .flatMap((line) => line.split(" ")).filter((w) => w.length > 0)
    .map((w) => [w, 1] as const)
    .reduceByKey((a, b) => a + b, { partitions: ${PARTITIONS} })
    .persist("memory");
  const first = await counts.count();
  await gate(ctx.arg("gate", ""));
  const pairs = await counts.collect();
  const third = await counts.count();
  // A digest of every pair, not the pairs: the answer stays one short JSON line.
  let total = 0;
  let weighted = 0;
  for (const [word, n] of pairs) {
    total += n;
    weighted += n * word.length * (word.charCodeAt(0) % 7 + 1);
  }
  return { first, words: pairs.length, total, weighted, third };
});
`;

let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-cache-loss-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 3 * 1024 * 1024, 7);
  writeFileSync(join(work, "counts.ts"), PROGRAM);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function withCluster(name: string, env: Record<string, string>, body: (cluster: TestCluster) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(work, `${name}-`));
  const cluster = await startTestCluster({
    nodes: 2,
    slots: 2,
    schedulerConf: ["ballast.executor.heartbeatTimeout=3s"],
    env: { BALLAST_TEST_TASK_EVENTS_FILE: join(dir, "task-events.jsonl"), ...env },
    dir,
  });
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

/** Runs the program; `between` runs while it waits between its first two actions. */
async function runApp(cluster: TestCluster, name: string, between: (gatePath: string) => Promise<void>): Promise<{ summary: any; events: TaskEvent[] }> {
  const gatePath = join(work, `${name}.gate`);
  const args = ["submit", "--dir", cluster.dir, "--json", join(work, "counts.ts"), "--", "--input", pathToFileURL(corpus).href, "--gate", gatePath];
  const submission = spawnCli(args);
  await waitUntil("the first action to finish", () => existsSync(`${gatePath}.ready`), 180_000);
  await between(gatePath);
  const res = await submission.done;
  expect(res.code, res.stderr).toBe(0);
  return { summary: lastJson(res.stdout), events: readTaskEvents(join(cluster.dir, "task-events.jsonl")) };
}

function expectExact(summary: any): void {
  expect(summary.status).toBe("succeeded");
  const pairs = [...expected];
  expect(summary.result).toEqual({
    first: expected.size,
    words: expected.size,
    total: pairs.reduce((sum, [, n]) => sum + n, 0),
    weighted: pairs.reduce((sum, [word, n]) => sum + n * word.length * (word.charCodeAt(0) % 7 + 1), 0),
    third: expected.size,
  });
}

/** The second action read node-2's partitions and computed only the `lost` ones node-1 held (its map stage ran again for them). */
function expectOnlyLostRecomputed(summary: any, events: TaskEvent[]): void {
  const [first, second, third] = summary.jobs;
  const lost = keptIn(events, first.jobId, "node-1");
  expect(keptIn(events, first.jobId)).toBe(PARTITIONS);
  expect(lost).toBeGreaterThan(0); // the killed executor held some partitions in memory
  expect(lost).toBeLessThan(PARTITIONS);
  expect(second.stats.cachedPartitionsRead).toBe(PARTITIONS - lost);
  expect(keptIn(events, second.jobId)).toBe(lost);
  const mapTasks = first.stats.tasksLaunched - PARTITIONS;
  expect(succeededIn(events, second.jobId)).toHaveLength(mapTasks + PARTITIONS);
  // The third reads every partition from memory and runs nothing below it: no input read, no map task.
  expect(third.stats.cachedPartitionsRead).toBe(PARTITIONS);
  expect(third.stats.tasksLaunched).toBe(PARTITIONS);
  expect(third.stats.inputBytes).toBe(0);
  expect(keptIn(events, third.jobId)).toBe(0);
}

describe("memory copies of a persisted dataset after a shuffle", () => {
  it("an executor SIGKILLed between actions: the next action recomputes only its partitions, the one after reads them all", async () => {
    await withCluster("between", {}, async (cluster) => {
      const { summary, events } = await runApp(cluster, "between", async (gatePath) => {
        await killAndWait(service(cluster, "executor", "node-1").pid);
        writeFileSync(`${gatePath}.go`, "");
      });
      expectExact(summary);
      expectOnlyLostRecomputed(summary, events);
    });
  }, 400_000);

  it("an executor SIGKILLed while the second action reads its partitions: the skipped map stage runs, then only those partitions", async () => {
    // node-1's result-stage tasks sleep first, so the kill lands while they run (they read node-1's copies).
    const faults = JSON.stringify({ delayTaskMs: { stageId: 1, ms: 4000 }, nodeIds: ["node-1"] });
    await withCluster("midjob", { BALLAST_TEST_FAULTS: faults }, async (cluster) => {
      const eventsFile = join(cluster.dir, "task-events.jsonl");
      const { summary, events } = await runApp(cluster, "midjob", async (gatePath) => {
        const before = readTaskEvents(eventsFile).length;
        writeFileSync(`${gatePath}.go`, "");
        await waitUntil("the second action's tasks to start on node-1", () => readTaskEvents(eventsFile).slice(before).some((e) => e.event === "start" && e.nodeId === "node-1"), 60_000);
        await killAndWait(service(cluster, "executor", "node-1").pid);
      });
      expectExact(summary);
      expectOnlyLostRecomputed(summary, events);
      // The kill did land mid-job: a result task of the second action on node-1 started and never succeeded there.
      const second = summary.jobs[1].jobId;
      const onNode1 = events.filter((e) => e.jobId === second && e.nodeId === "node-1" && e.stageId === 1);
      expect(onNode1.some((e) => e.event === "start")).toBe(true);
      expect(onNode1.some((e) => e.event === "end" && e.state === "succeeded")).toBe(false);
    });
  }, 400_000);
});
