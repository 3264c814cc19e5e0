import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect } from "vitest";
import { lastJson, spawnCli } from "../support/cluster.js";
import { jobHistory, readTaskEvents, type TaskEvent } from "../support/faults.js";
import { prepareCorpus, readCountsDir } from "../support/wordcount.js";
import { startHostCluster, type HostCluster } from "./cluster.js";
import { checkRun, type RunReport } from "./checker.js";

/** What a scenario does to the network while the job runs; `events` are the executors' task events so far. */
export type Chaos = (cluster: HostCluster, events: () => TaskEvent[]) => Promise<void>;

export interface HostRun extends RunReport {
  summary: any;
  tookMs: number;
}

export interface RunOptions {
  reduceDelayMs?: number;
  /** Scheduler `--conf` defaults for the job (e.g. fewer fetch retries where every fetch waits out its deadline). */
  schedulerConf?: string[];
}

/** Every chaos step gives up after this long, so a scenario that hangs fails instead of stalling the run. */
const CHAOS_TIMEOUT_MS = 90_000;
const JOB_TIMEOUT_MS = 150_000;

/**
 * A word count over a 4 MB corpus (12 tasks on 2 nodes of 1 slot, reduce tasks delayed so
 * faults land mid-stage) on a fresh host cluster, with `chaos` running alongside `ballast
 * submit` from the operator's side. Checks the output is exact and runs the event checker.
 * Call in a test file's top level (it registers the corpus's setup and cleanup).
 */
export function hostRunner(): (name: string, chaos: Chaos, options?: RunOptions) => Promise<HostRun> {
  const files = { work: "", corpus: "", expected: new Map<string, number>() };
  beforeAll(() => {
    files.work = mkdtempSync(join(tmpdir(), "ballast-partitions-"));
    files.corpus = join(files.work, "corpus.txt");
    files.expected = prepareCorpus(files.corpus, 4 * 1024 * 1024, 9);
  });
  afterAll(() => rmSync(files.work, { recursive: true, force: true }));

  return async (name, chaos, options = {}) => {
    const started = Date.now();
    const eventsFile = join(files.work, `${name}.events`);
    const delay = { stageId: 1, ms: options.reduceDelayMs ?? 800 };
    const cluster = await startHostCluster({
      nodes: 2,
      slots: 1,
      schedulerConf: options.schedulerConf,
      env: { BALLAST_TEST_FAULTS: JSON.stringify({ delayTaskMs: delay }), BALLAST_TEST_TASK_EVENTS_FILE: eventsFile },
    });
    let failed = true;
    let submission: ReturnType<typeof spawnCli> | undefined;
    try {
      const out = join(files.work, `${name}-out`);
      submission = spawnCli(["submit", "--dir", cluster.dir, "--json", "examples/wordcount.ts", "--", "--input", pathToFileURL(files.corpus).href, "--output", pathToFileURL(out).href], JOB_TIMEOUT_MS);
      await withTimeout(`${name}'s chaos`, chaos(cluster, () => readTaskEvents(eventsFile)), CHAOS_TIMEOUT_MS);
      const res = await submission.done;
      cluster.network.heal(); // history must be reachable for the checker whatever the scenario left
      expect(res.code, res.stderr).toBe(0);
      const summary = lastJson(res.stdout);
      const { counts, parts } = readCountsDir(out); // throws if a partition was committed twice
      expect(counts).toEqual(files.expected);
      // History receives events asynchronously (the outbox retries through outages): wait for the end of the run's one job.
      const report = checkRun(cluster, await jobHistory(cluster, ""), readTaskEvents(eventsFile), parts);
      failed = false;
      return { ...report, summary, tookMs: Date.now() - started };
    } finally {
      // A client left running would find the next scenario's cluster on the same addresses.
      if (submission && submission.child.exitCode === null) submission.child.kill("SIGKILL");
      await cluster.stop({ keepLogs: failed });
    }
  };
}

async function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000}s`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
