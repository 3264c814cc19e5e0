import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect } from "vitest";
import { isAlive, readCluster, type ClusterOptions, type ServiceRecord } from "@ballast/cli/cluster";
import { lastJson, runCli, startTestCluster, type TestCluster } from "./cluster.js";
import { historyEvents, readTaskEvents, type TaskEvent } from "./faults.js";
import { prepareCorpus, readCountsDir } from "./wordcount.js";

// The scheduler is SIGKILLed / SIGSTOPped for real while `ballast submit` waits on the job.
// A short lease keeps the tests quick; executors and the client follow the new leader.
const LEASE = "ballast.scheduler.leaseTimeout=2s";
const RECONNECT = "ballast.scheduler.recovery.executorReconnectTimeout=5s";

export interface FailoverOptions {
  schedulers: number;
  delay: { stageId: number; ms: number };
  /** The schedulers' store (postgresql://...); SQLite in the cluster directory by default. */
  store?: string;
}

export type Inject = (cluster: TestCluster, events: () => TaskEvent[]) => Promise<void>;

/**
 * A word count over a 4 MB corpus prepared once per test file, on 2 nodes of 1
 * slot with task delays, while `inject` breaks things; returns the run's records.
 * Call in a test file's top level (it registers the corpus's setup and cleanup).
 */
export function failoverRunner(): (name: string, options: FailoverOptions, inject: Inject) => ReturnType<typeof runOnce> {
  const files = { work: "", corpus: "", expected: new Map<string, number>() };
  beforeAll(() => {
    files.work = mkdtempSync(join(tmpdir(), "ballast-failover-"));
    files.corpus = join(files.work, "corpus.txt");
    files.expected = prepareCorpus(files.corpus, 4 * 1024 * 1024, 9);
  });
  afterAll(() => rmSync(files.work, { recursive: true, force: true }));
  return (name, options, inject) => runOnce(files, name, options, inject);
}

async function runOnce(files: { work: string; corpus: string; expected: Map<string, number> }, name: string, options: FailoverOptions, inject: Inject) {
  const eventsFile = join(files.work, `${name}.events`);
  const clusterOptions: Partial<ClusterOptions> = {
    nodes: 2,
    slots: 1,
    schedulers: options.schedulers,
    store: options.store,
    schedulerConf: [LEASE, RECONNECT],
    env: { BALLAST_TEST_FAULTS: JSON.stringify({ delayTaskMs: options.delay }), BALLAST_TEST_TASK_EVENTS_FILE: eventsFile },
  };
  const cluster = await startTestCluster(clusterOptions);
  try {
    const out = join(files.work, `${name}-out`);
    const submission = runCli(["submit", "--dir", cluster.dir, "--json", "examples/wordcount.ts", "--", "--input", pathToFileURL(files.corpus).href, "--output", pathToFileURL(out).href]);
    await inject(cluster, () => readTaskEvents(eventsFile));
    const res = await submission;
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    expect(readCountsDir(out).counts).toEqual(files.expected); // also fails if a partition was committed twice
    const history = await historyEvents(cluster, "");
    return { summary, events: readTaskEvents(eventsFile), history, cluster: readCluster(cluster.dir) };
  } finally {
    await cluster.stop();
  }
}

export const schedulers = (cluster: TestCluster): ServiceRecord[] => readCluster(cluster.dir).services.filter((s) => s.name === "scheduler");
export const leaderOf = (cluster: TestCluster) => schedulers(cluster).find((s) => isAlive(s.pid))!;
export const succeededAt = (events: TaskEvent[], stageId: number) => events.filter((e) => e.event === "end" && e.state === "succeeded" && e.stageId === stageId);
export const started = (events: TaskEvent[], stageId: number) => events.filter((e) => e.event === "start" && e.stageId === stageId);

/**
 * 12 tasks, plus at most one relaunch per slot (2): a launch sent in the instant the scheduler
 * died may never reach its executor and is sent again. Finished work is checked separately.
 */
export function expectFewRelaunches(tasksLaunched: number) {
  expect(tasksLaunched).toBeGreaterThanOrEqual(12);
  expect(tasksLaunched).toBeLessThanOrEqual(14);
}

/** No (stage, partition) that had succeeded was started again. */
export function expectNoFinishedTaskRerun(events: TaskEvent[]) {
  const done = new Set<string>();
  for (const e of events) {
    const key = `${e.stageId}/${e.partition}`;
    if (e.event === "start") expect(done.has(key), `finished task ${key} ran again`).toBe(false);
    if (e.event === "end" && e.state === "succeeded") done.add(key);
  }
}
