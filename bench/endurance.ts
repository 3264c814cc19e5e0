// `npm run bench -- endurance`: 1,000 small jobs back to back against a real 2-node cluster,
// printing the scheduler's RSS and the size of its store (SQLite file bytes, input log rows,
// outbox events, job records) at 10, 100 and 1,000 jobs. Goal: flat (ended jobs leave the
// scheduler after ballast.scheduler.jobRetention, the log is compacted behind each snapshot).
// Bounded: each job has a deadline and the whole run stops after BENCH_ENDURANCE_BUDGET_MS.
// Each checkpoint's RSS is the median of a few samples taken after the scheduler collected its
// garbage (bench/memoryProbe.cjs), printed with where the memory is, so one GC's timing or a
// passing allocation spike does not decide the verdict, and a growth shows which part grows.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { formatBytes } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import type { ClusterDescription } from "@ballast/cli/cluster";
import { BENCH_DIR, quiet, row, seconds, withCluster } from "./support.js";

const JOBS = Number(process.env.BENCH_ENDURANCE_JOBS ?? 1_000);
const BUDGET_MS = Number(process.env.BENCH_ENDURANCE_BUDGET_MS ?? 25 * 60_000);
const RETENTION_MS = 2_000;
/** The last checkpoint is the run's end, so a shorter run (BENCH_ENDURANCE_JOBS=300) still gets a late figure. */
const CHECKPOINTS = [...new Set([10, 100, 1_000].filter((n) => n < JOBS).concat(JOBS))];
/** RSS may grow this much from 100 jobs on (allocator and JIT warm-up end early): more is a leak. */
const RSS_GOAL_RATIO = 1.15;
/** RSS samples per checkpoint, each after a full GC; their median is the checkpoint's figure. */
const SAMPLES = Number(process.env.BENCH_ENDURANCE_SAMPLES ?? 5);
const PROBE_DIR = join(BENCH_DIR, "endurance-probe");

/** What bench/memoryProbe.cjs writes: process.memoryUsage() plus anonymous/file RSS and V8's heap spaces. */
interface Probe {
  sample: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rssAnon: number;
  rssFile: number;
  spaces: Record<string, number>;
}

interface Figures {
  jobs: number;
  /** RSS as the scheduler was found, one reading before any forced GC. */
  foundRssBytes: number;
  /** The median post-GC sample's RSS: the verdict's figure. */
  rssBytes: number;
  probe: Probe;
  sqliteBytes: number;
  inputRows: number;
  eventRows: number;
  jobRows: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readProbe(pid: number): Probe | undefined {
  const file = join(PROBE_DIR, `${pid}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Probe) : undefined;
}

/** Asks the scheduler's probe for one post-GC sample and waits (at most 10 s) for it to be written. */
async function probeOnce(pid: number): Promise<Probe> {
  const before = readProbe(pid)?.sample ?? 0;
  process.kill(pid, "SIGUSR2");
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    const probe = readProbe(pid);
    if (probe && probe.sample > before) return probe;
  }
  throw new Error(`the scheduler (pid ${pid}) wrote no memory probe within 10 s`);
}

/** SAMPLES post-GC samples a second apart; the one with the median RSS stands for the checkpoint. */
async function medianProbe(pid: number): Promise<Probe> {
  const samples: Probe[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(1_000);
    samples.push(await probeOnce(pid));
  }
  return samples.sort((a, b) => a.rss - b.rss)[Math.floor(SAMPLES / 2)];
}

/** The store as the scheduler left it: file bytes (database + WAL) and row counts, read-only. */
function storeFigures(dataDir: string): Omit<Figures, "jobs" | "foundRssBytes" | "rssBytes" | "probe"> {
  const file = join(dataDir, "scheduler.sqlite");
  const bytes = [file, `${file}-wal`].filter(existsSync).reduce((sum, path) => sum + statSync(path).size, 0);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    return { sqliteBytes: bytes, inputRows: count("inputs"), eventRows: count("events"), jobRows: count("jobs") };
  } finally {
    db.close();
  }
}

async function runSmallJob(cluster: ClusterDescription, index: number): Promise<void> {
  const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`job ${index} did not end within 60 s`)), 60_000).unref());
  const submitted = submitJob({ scheduler: cluster.scheduler, staging: cluster.staging, jobFile: "bench/jobs/empty-tasks.ts", files: [], conf: [], args: ["--tasks", "2"], json: false, progress: quiet });
  const outcome = await Promise.race([submitted, deadline]);
  if (!outcome.ok) throw new Error(`job ${index} failed: ${outcome.error?.message}`);
}

function currentRssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

async function measure(cluster: ClusterDescription, jobs: number): Promise<Figures> {
  const scheduler = cluster.services.find((service) => service.name === "scheduler")!;
  const foundRssBytes = currentRssBytes(scheduler.pid); // before the probe's GCs change it
  const probe = await medianProbe(scheduler.pid);
  return { jobs, foundRssBytes, rssBytes: probe.rss, probe, ...storeFigures(scheduler.dataDir) };
}

function report(figures: Figures[], elapsedMs: number): void {
  console.log(`\n== endurance: ${figures.at(-1)?.jobs ?? 0} small jobs back to back, 2 nodes (jobRetention ${RETENTION_MS} ms), in ${seconds(elapsedMs)}`);
  row("jobs", figures.map((f) => String(f.jobs).padStart(12)).join("") + "   goal");
  const bytesRow = (label: string, of: (f: Figures) => number, goal = "") => row(label, figures.map((f) => formatBytes(of(f)).padStart(12)).join("") + goal);
  bytesRow("scheduler RSS as found", (f) => f.foundRssBytes);
  bytesRow(`scheduler RSS (median of ${SAMPLES}, GC'd)`, (f) => f.rssBytes, "   flat");
  bytesRow("  anonymous (heap, malloc)", (f) => f.probe.rssAnon);
  bytesRow("  file-backed (code, mmap)", (f) => f.probe.rssFile);
  bytesRow("  JS heap used", (f) => f.probe.heapUsed);
  bytesRow("  JS heap reserved", (f) => f.probe.heapTotal);
  for (const space of ["new_space", "old_space", "code_space"]) bytesRow(`    ${space}`, (f) => f.probe.spaces[space] ?? 0);
  bytesRow("  external (native, of JS objects)", (f) => f.probe.external);
  row("SQLite file (db + WAL)", figures.map((f) => formatBytes(f.sqliteBytes).padStart(12)).join("") + "   flat");
  row("input log rows", figures.map((f) => String(f.inputRows).padStart(12)).join("") + "   flat (compacted every 5,000 inputs or 10 s)");
  row("outbox event rows", figures.map((f) => String(f.eventRows).padStart(12)).join("") + "   flat (deleted once history acknowledged)");
  row("job records (dedupe)", figures.map((f) => String(f.jobRows).padStart(12)).join("") + "   flat (only jobs still held)");
  printRssRatios(figures);
}

/** The late figure over the 100-jobs (warmed-up) and 10-jobs figures, with the goal beside it. */
function printRssRatios(figures: Figures[]): void {
  const last = figures.at(-1);
  for (const base of [100, 10]) {
    const from = figures.find((f) => f.jobs === base);
    if (!last || !from || from === last) continue;
    const ratio = last.rssBytes / from.rssBytes;
    const verdict = base === 100 ? (ratio <= RSS_GOAL_RATIO ? "  ok" : "  OVER") : "";
    const found = `; as found ${(last.foundRssBytes / from.foundRssBytes).toFixed(2)}x`;
    row(`RSS ratio ${last.jobs}/${base} jobs`, `${ratio.toFixed(2)}x GC'd median${found}  (goal <= ${RSS_GOAL_RATIO}x from 100 jobs on)${verdict}`);
  }
}

export async function enduranceBench(): Promise<void> {
  const schedulerConf = [`ballast.scheduler.jobRetention=${RETENTION_MS}ms`];
  rmSync(PROBE_DIR, { recursive: true, force: true });
  mkdirSync(PROBE_DIR, { recursive: true });
  const env = { NODE_OPTIONS: `--require ${resolve("bench/memoryProbe.cjs")}`, BENCH_MEMORY_PROBE: PROBE_DIR };
  await withCluster("endurance", { nodes: 2, schedulerConf, env }, async (cluster) => {
    const started = performance.now();
    const figures: Figures[] = [];
    for (let done = 0; done < JOBS; ) {
      if (performance.now() - started > BUDGET_MS) {
        console.log(`endurance: budget of ${seconds(BUDGET_MS)} spent after ${done} jobs; reporting what was measured`);
        break;
      }
      await runSmallJob(cluster, ++done);
      if (done % 100 === 0) console.log(`endurance: ${done} jobs (${seconds(performance.now() - started)})`);
      if (CHECKPOINTS.includes(done)) {
        await sleep(RETENTION_MS + 1_500); // the ended jobs' retention passes
        figures.push(await measure(cluster, done));
      }
    }
    report(figures, performance.now() - started);
  });
}
