import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, spawnCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { leaderOf } from "../support/failover.js";
import { killAndWait, readTaskEvents, service, waitUntil, type TaskEvent } from "../support/faults.js";
import { prepareCorpus } from "../support/wordcount.js";
import { GATE_SOURCE } from "../support/gate.js";

// Cached partitions of persisted datasets on a real cluster: an application of
// three actions over one persisted dataset (4 partitions of a 3 MB corpus),
// which stops between its first and second action at a gate the test opens,
// so the test can break things there (kill an executor, the scheduler).

const PARTITIONS = 4;
let work: string;
let corpus: string;
let expected: Map<string, number>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-cache-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 3 * 1024 * 1024, 5);
  writeFileSync(join(work, "cached.ts"), PROGRAM);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Words persisted at --level; a second dataset over them cached in memory when --derived is set. */
const PROGRAM = `
import { app } from "ballast";
${GATE_SOURCE}
export default app("cached", async (ctx) => {
  const words = ctx.textFile(ctx.arg("input"), { minPartitions: ${PARTITIONS} })
    .flatMap((line) => line.split(" ")).filter((w) => w.length > 0)
    .persist(ctx.arg("level") as "disk");
  const lengths = words.map((w) => w.length).cache();
  const first = await words.count();
  const letters = await lengths.reduce((a, b) => a + b);
  await gate(ctx.arg("gate", ""));
  const second = await words.count();
  const distinct = await words.distinct().count();
  const lettersAgain = await lengths.reduce((a, b) => a + b);
  words.unpersist();
  const afterUnpersist = await words.count();
  return { first, second, distinct, letters, lettersAgain, afterUnpersist };
});
`;

interface Run {
  summary: any;
  events: TaskEvent[];
}

/** Runs the program on `cluster`; `between` runs while it waits between its first two actions. */
async function runApp(cluster: TestCluster, name: string, level: string, between?: () => Promise<void>): Promise<Run> {
  const gatePath = join(work, `${name}.gate`);
  const args = ["submit", "--dir", cluster.dir, "--json", join(work, "cached.ts"), "--", "--input", pathToFileURL(corpus).href, "--level", level, "--gate", gatePath];
  const submission = spawnCli(args);
  await waitUntil("the program to reach its gate", () => existsSync(`${gatePath}.ready`), 120_000);
  await between?.();
  writeFileSync(`${gatePath}.go`, "");
  const res = await submission.done;
  expect(res.code, res.stderr).toBe(0);
  const summary = lastJson(res.stdout);
  return { summary, events: readTaskEvents(join(cluster.dir, "task-events.jsonl")) };
}

function expectCorrect(summary: any): void {
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  const letters = [...expected].reduce((sum, [word, n]) => sum + word.length * n, 0);
  expect(summary.status).toBe("succeeded");
  expect(summary.result).toEqual({ first: total, second: total, distinct: expected.size, letters, lettersAgain: letters, afterUnpersist: total });
}

const endsOf = (events: TaskEvent[], jobId: string) => events.filter((e) => e.event === "end" && e.state === "succeeded" && e.jobId === jobId);
const readsOf = (events: TaskEvent[], jobId: string) => endsOf(events, jobId).reduce((sum, e) => sum + (e.cachedRead ?? 0), 0);
const keptOf = (events: TaskEvent[], jobId: string) => endsOf(events, jobId).reduce((sum, e) => sum + (e.cachedKept ?? 0), 0);

async function withCluster<T>(name: string, options: { schedulers?: number; schedulerConf?: string[] }, body: (cluster: TestCluster) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(work, `${name}-`));
  const cluster = await startTestCluster({
    nodes: 2,
    slots: 2,
    schedulers: options.schedulers ?? 1,
    schedulerConf: ["ballast.scheduler.leaseTimeout=2s", "ballast.scheduler.recovery.executorReconnectTimeout=5s", "ballast.executor.heartbeatTimeout=3s", ...(options.schedulerConf ?? [])],
    env: { BALLAST_TEST_TASK_EVENTS_FILE: join(dir, "task-events.jsonl") },
    dir,
  });
  try {
    return await body(cluster);
  } finally {
    await cluster.stop();
  }
}

describe("cached partitions of persisted datasets on a cluster", () => {
  it("later actions read every persisted partition from the cache and compute none again", async () => {
    await withCluster("reads", {}, async (cluster) => {
      const { summary, events } = await runApp(cluster, "reads", "disk");
      expectCorrect(summary);
      const [count1, reduce1, count2, distinct, reduce2] = summary.jobs;
      // First actions compute and keep their datasets' partitions; none is read from a cache.
      expect(count1.stats.cachedPartitionsRead).toBe(0);
      expect(keptOf(events, count1.jobId)).toBe(PARTITIONS);
      // The in-memory lengths are computed from the words on disk.
      expect(reduce1.stats.cachedPartitionsRead).toBe(PARTITIONS);
      for (const job of [count2, distinct, reduce2]) {
        expect(job.stats.cachedPartitionsRead).toBe(PARTITIONS);
        expect(readsOf(events, job.jobId)).toBe(PARTITIONS);
        expect(keptOf(events, job.jobId)).toBe(0); // nothing recomputed
        expect(job.stats.inputBytes).toBe(0); // the input file is not read again
      }
      // Unpersisted, the words are computed from the input again and not kept.
      const afterUnpersist = summary.jobs[5];
      expect(afterUnpersist.stats.cachedPartitionsRead).toBe(0);
      expect(afterUnpersist.stats.inputBytes).toBeGreaterThan(0);
      expect(keptOf(events, afterUnpersist.jobId)).toBe(0);
    });
  });

  it("an executor SIGKILLed between actions: disk partitions stay, memory ones are recomputed, only those", async () => {
    await withCluster("executor", {}, async (cluster) => {
      const { summary, events } = await runApp(cluster, "executor", "disk", async () => {
        await killAndWait(service(cluster, "executor", "node-1").pid);
      });
      expectCorrect(summary);
      const [count1, reduce1, count2, distinct, reduce2] = summary.jobs;
      const lostMemory = endsOf(events, reduce1.jobId).filter((e) => e.nodeId === "node-1").reduce((sum, e) => sum + (e.cachedKept ?? 0), 0);
      expect(lostMemory).toBeGreaterThan(0); // the killed executor held some lengths in memory
      expect(keptOf(events, count1.jobId)).toBe(PARTITIONS);
      // Every disk partition is still read, from node-1's shuffle service too.
      for (const job of [count2, distinct]) {
        expect(job.stats.cachedPartitionsRead).toBe(PARTITIONS);
        expect(keptOf(events, job.jobId)).toBe(0);
      }
      // The lengths node-1 held are recomputed (from the words on disk) and kept again; the others are read.
      expect(keptOf(events, reduce2.jobId)).toBe(lostMemory);
      expect(reduce2.stats.inputBytes).toBe(0);
    });
  });

  it("a scheduler SIGKILLed between actions: the new leader reads the cache registry from its log, nothing is recomputed", async () => {
    await withCluster("failover", { schedulers: 2 }, async (cluster) => {
      const { summary, events } = await runApp(cluster, "failover", "memory_and_disk", async () => {
        await killAndWait(leaderOf(cluster).pid);
      });
      expectCorrect(summary);
      const [, , count2, distinct, reduce2] = summary.jobs;
      for (const job of [count2, distinct, reduce2]) {
        expect(job.stats.cachedPartitionsRead).toBe(PARTITIONS);
        expect(keptOf(events, job.jobId)).toBe(0);
      }
      // The application's record came through the failover too (the new leader rebuilt it from the log):
      // attach answers every action from it, running no job.
      const attached = await runCli(["attach", summary.applicationId, "--dir", cluster.dir, "--json"]);
      expect(attached.code, attached.stderr).toBe(0);
      expect(lastJson(attached.stdout).result).toEqual(summary.result);
      expect(new Set(readTaskEvents(join(cluster.dir, "task-events.jsonl")).map((event) => event.jobId)).size).toBe(summary.jobs.length);
    });
  });
});

describe("a driver program that survives its client", () => {
  it("SIGKILLed `ballast submit`, resumed with `ballast attach` after its finished jobs left the scheduler: no finished job rerun, the same result", async () => {
    // Ended jobs leave the scheduler after 1 s: the finished actions' results must come from the application's record.
    await withCluster("attach", { schedulerConf: ["ballast.scheduler.jobRetention=1s"] }, async (cluster) => {
      const gatePath = join(work, "attach.gate");
      const args = ["submit", "--dir", cluster.dir, "--json", join(work, "cached.ts"), "--", "--input", pathToFileURL(corpus).href, "--level", "disk", "--gate", gatePath];
      const first = spawnCli(args);
      await waitUntil("the program to reach its gate", () => existsSync(`${gatePath}.ready`), 120_000);
      const applicationId = /application (app-\S+)/.exec(first.output().stderr)![1]!;
      const finishedJobs = [...first.output().stderr.matchAll(/submitted (\S+)/g)].map((match) => match[1]!);
      expect(finishedJobs).toHaveLength(2);
      first.child.kill("SIGKILL");
      await first.done;
      writeFileSync(`${gatePath}.go`, "");
      await waitUntil("the finished jobs to leave the scheduler", async () => {
        const listed = lastJson((await runCli(["jobs", "--dir", cluster.dir, "--json"])).stdout) as Array<{ jobId: string }>;
        return !listed.some((job) => finishedJobs.includes(job.jobId));
      }, 30_000);

      const attached = await spawnCli(["attach", applicationId, "--dir", cluster.dir, "--json"]).done;
      expect(attached.code, attached.stderr).toBe(0);
      expect(attached.stderr).toContain(`application ${applicationId}, 2 finished action(s) answered from their recorded results`);
      const summary = lastJson(attached.stdout);
      expect(summary.applicationId).toBe(applicationId);
      expectCorrect(summary);
      // The finished actions keep their jobs; only the three after the gate ran now.
      expect(summary.jobs.map((job: { jobId: string }) => job.jobId).slice(0, 2)).toEqual(finishedJobs);
      const events = readTaskEvents(join(cluster.dir, "task-events.jsonl"));
      expect(new Set(events.map((event) => event.jobId)).size).toBe(6);
      // Resumed, the persisted words are still read from the cache.
      expect(summary.jobs[2].stats.cachedPartitionsRead).toBe(PARTITIONS);
    });
  });

  it("a program that asks for a different action at a recorded point fails with a non-determinism error naming both call sites", async () => {
    await withCluster("nondeterministic", {}, async (cluster) => {
      const gatePath = join(work, "nondeterministic.gate");
      writeFileSync(`${gatePath}.go`, "");
      const input = ["--", "--input", pathToFileURL(corpus).href, "--level", "disk", "--gate", gatePath];
      const first = await spawnCli(["submit", "--dir", cluster.dir, "--json", join(work, "cached.ts"), ...input]).done;
      expect(first.code, first.stderr).toBe(0);
      const { applicationId } = lastJson(first.stdout);
      // The same program with its first two actions swapped.
      const swapped = join(work, "swapped.ts");
      writeFileSync(swapped, PROGRAM.replace("const first = await words.count();\n  const letters = await lengths.reduce((a, b) => a + b);", "const letters = await lengths.reduce((a, b) => a + b);\n  const first = await words.count();"));
      const res = await spawnCli(["submit", "--dir", cluster.dir, "--json", "--app-id", applicationId, swapped, ...input]).done;
      expect(res.code).toBe(1);
      const summary = lastJson(res.stdout);
      expect(summary.status).toBe("failed");
      expect(summary.error.message).toMatch(/app "cached" is not deterministic: replayed, its action #1 is called at swapped\.ts:\d+, but the recorded action #1 was called at cached\.ts:\d+/);
      expect(res.stderr).not.toMatch(/at .*packages\//);
    });
  });
});

describe("examples/cached-explore.ts", () => {
  it("returns the corpus's figures, its later actions reading only what is kept", async () => {
    await withCluster("example", {}, async (cluster) => {
      const res = await spawnCli(["submit", "--dir", cluster.dir, "--json", "examples/cached-explore.ts", "--", "--input", pathToFileURL(corpus).href]).done;
      expect(res.code, res.stderr).toBe(0);
      const summary = lastJson(res.stdout);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      const letters = [...expected].reduce((sum, [word, n]) => sum + word.length * n, 0);
      const top = [...expected].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
      expect(summary.result).toEqual({ total, distinct: expected.size, meanLength: letters / total, longest: Math.max(...[...expected.keys()].map((w) => w.length)), top });
      const [, , counted, topped, longest] = summary.jobs;
      expect(counted.stats.cachedPartitionsRead).toBe(PARTITIONS); // the words
      // The counts are on disk: takeOrdered plans only the stage that reads them.
      expect(topped.stats).toMatchObject({ cachedPartitionsRead: counted.stats.tasksLaunched - PARTITIONS, inputBytes: 0 });
      expect(longest.stats.cachedPartitionsRead).toBe(PARTITIONS);
    });
  });
});

/** Its second action's tasks wait for <gate>.go: the test kills the driver while that job runs. */
const HOLDING_PROGRAM = `
import { existsSync } from "node:fs";
import { app } from "ballast";

function hold(path: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(path)) Atomics.wait(cell, 0, 0, 50);
}

export default app("holding", async (ctx) => {
  const gate = ctx.arg("gate");
  const words = ctx.textFile(ctx.arg("input"), { minPartitions: ${PARTITIONS} })
    .flatMap((line) => line.split(" ")).filter((w) => w.length > 0).persist("disk");
  const first = await words.count();
  const held = await words.mapPartitions((records) => (hold(gate + ".go"), records)).count();
  const distinct = await words.distinct().count();
  return { first, held, distinct };
});
`;

describe("a driver killed while an action's job runs", () => {
  it("`ballast attach` rejoins the running job instead of submitting it again", async () => {
    await withCluster("rejoin", {}, async (cluster) => {
      const file = join(work, "holding.ts");
      writeFileSync(file, HOLDING_PROGRAM);
      const gatePath = join(work, "rejoin.gate");
      const first = spawnCli(["submit", "--dir", cluster.dir, "--json", file, "--", "--input", pathToFileURL(corpus).href, "--gate", gatePath]);
      await first.waitFor(/action #2 \(count\): submitted (\S+)/, 120_000);
      const [, applicationId] = /application (app-\S+)/.exec(first.output().stderr)!;
      const [, runningJob] = /action #2 \(count\): submitted (\S+)/.exec(first.output().stderr)!;
      const eventsFile = join(cluster.dir, "task-events.jsonl");
      await waitUntil("the held job's tasks to start", () => readTaskEvents(eventsFile).some((e) => e.jobId === runningJob && e.event === "start"), 60_000);
      first.child.kill("SIGKILL");
      await first.done;

      const attached = spawnCli(["attach", applicationId!, "--dir", cluster.dir, "--json"]);
      await attached.waitFor(`action #2 (count): rejoined ${runningJob}`, 60_000);
      writeFileSync(`${gatePath}.go`, "");
      const res = await attached.done;
      expect(res.code, res.stderr).toBe(0);
      const summary = lastJson(res.stdout);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      expect(summary.result).toEqual({ first: total, held: total, distinct: expected.size });
      expect(summary.jobs.map((job: { jobId: string }) => job.jobId)[1]).toBe(runningJob);
      // Three actions, three jobs: none submitted twice.
      expect(new Set(readTaskEvents(eventsFile).map((e) => e.jobId)).size).toBe(3);
    });
  });
});
