// `npm run bench -- endurance`: 1,000 small jobs back to back against a real 2-node cluster,
// printing the scheduler's RSS and the size of its store (SQLite file bytes, input log rows,
// outbox events, job records) at 10, 100 and 1,000 jobs. Goal: flat (ended jobs leave the
// scheduler after ballast.scheduler.jobRetention, the log is compacted behind each snapshot).
// Bounded: each job has a deadline and the whole run stops after BENCH_ENDURANCE_BUDGET_MS.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { formatBytes } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import type { ClusterDescription } from "@ballast/cli/cluster";
import { quiet, row, seconds, withCluster } from "./support.js";

const JOBS = Number(process.env.BENCH_ENDURANCE_JOBS ?? 1_000);
const BUDGET_MS = Number(process.env.BENCH_ENDURANCE_BUDGET_MS ?? 25 * 60_000);
const RETENTION_MS = 2_000;
/** The last checkpoint is the run's end, so a shorter run (BENCH_ENDURANCE_JOBS=300) still gets a late figure. */
const CHECKPOINTS = [...new Set([10, 100, 1_000].filter((n) => n < JOBS).concat(JOBS))];
/** RSS may grow this much from 100 jobs on (allocator and JIT warm-up end early): more is a leak. */
const RSS_GOAL_RATIO = 1.15;

interface Figures {
  jobs: number;
  rssBytes: number;
  sqliteBytes: number;
  inputRows: number;
  eventRows: number;
  jobRows: number;
}

function currentRssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

/** The store as the scheduler left it: file bytes (database + WAL) and row counts, read-only. */
function storeFigures(dataDir: string): Omit<Figures, "jobs" | "rssBytes"> {
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

function measure(cluster: ClusterDescription, jobs: number): Figures {
  const scheduler = cluster.services.find((service) => service.name === "scheduler")!;
  return { jobs, rssBytes: currentRssBytes(scheduler.pid), ...storeFigures(scheduler.dataDir) };
}

function report(figures: Figures[], elapsedMs: number): void {
  console.log(`\n== endurance: ${figures.at(-1)?.jobs ?? 0} small jobs back to back, 2 nodes (jobRetention ${RETENTION_MS} ms), in ${seconds(elapsedMs)}`);
  row("jobs", figures.map((f) => String(f.jobs).padStart(12)).join("") + "   goal");
  row("scheduler RSS", figures.map((f) => formatBytes(f.rssBytes).padStart(12)).join("") + "   flat");
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
    row(`RSS ratio ${last.jobs}/${base} jobs`, `${ratio.toFixed(2)}x  (goal <= ${RSS_GOAL_RATIO}x from 100 jobs on)${verdict}`);
  }
}

export async function enduranceBench(): Promise<void> {
  const schedulerConf = [`ballast.scheduler.jobRetention=${RETENTION_MS}ms`];
  await withCluster("endurance", { nodes: 2, schedulerConf }, async (cluster) => {
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
        await new Promise((resolve) => setTimeout(resolve, RETENTION_MS + 1_500)); // the ended jobs' retention passes
        figures.push(measure(cluster, done));
      }
    }
    report(figures, performance.now() - started);
  });
}
