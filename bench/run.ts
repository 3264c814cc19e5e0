// `npm run bench [-- tasks|wordcount|store|startup|recovery|decommission|failover|sort|group|all]`
//   tasks: 20,000 empty tasks end to end on 2 nodes, beside Dask distributed.
//   wordcount (default): 100 MB Zipf word count on a 2-node local cluster versus a plain
//   single-process word count of the same file, executor peak RSS, scheduler throughput.
//   store: scheduler-service throughput on SQLite and on PostgreSQL (also part of wordcount).
import { createReadStream, statSync } from "node:fs";
import { formatBytes } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import { shutdownTelemetry } from "@ballast/common/telemetry";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import { measureCoreThroughput, measureSchedulerService } from "./coreThroughput.js";
import { groupByKeyBench } from "./groupByKey.js";
import { decommissionBench, failoverBench, recoveryBench } from "./scenarios.js";
import { sortBench } from "./sort.js";
import { EMPTY_TASKS, emptyTasksBench } from "./tasks.js";
import { startupBench } from "./startup.js";
import { benchCorpus, peakRssBytes, quiet, row, seconds, withCluster, wordcount } from "./support.js";


/** The baseline: stream the file once, split lines and words, count in a Map. */
async function singleProcessWordCount(path: string): Promise<{ ms: number; words: number }> {
  const started = performance.now();
  const counts = new Map<string, number>();
  let carry = "";
  for await (const chunk of createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 })) {
    const text = carry + chunk;
    const lastNewline = text.lastIndexOf("\n");
    carry = text.slice(lastNewline + 1);
    for (const line of text.slice(0, lastNewline).split("\n")) for (const w of line.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  for (const w of carry.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  return { ms: performance.now() - started, words: counts.size };
}

async function wordcountBench(): Promise<void> {
  const corpus = benchCorpus();
  const size = statSync(corpus).size;
  const baseline = await singleProcessWordCount(corpus);
  await withCluster("wordcount", { nodes: 2 }, async (cluster) => {
    const { outcome, ms } = await wordcount(cluster, corpus, "wc-out");
    console.log("\n== word count, 100 MB, 2 nodes (cluster already up; submit to result)");
    row("corpus", `${formatBytes(size)} (${baseline.words} distinct words)`);
    row("ballast wall time", `${seconds(ms)}  (${(size / 1024 ** 2 / (ms / 1000)).toFixed(1)} MB/s)`);
    row("single-process wall time", `${seconds(baseline.ms)}  (${(size / 1024 ** 2 / (baseline.ms / 1000)).toFixed(1)} MB/s)`);
    row("ratio ballast/single", `${(ms / baseline.ms).toFixed(2)}x  (target <= 1.0x)`);
    row("shuffle bytes written", formatBytes(outcome.stats.shuffleBytesWritten));
    row("tasks", String(outcome.stats.tasksLaunched));
    for (const e of cluster.services.filter((s) => s.name === "executor")) row(`peak RSS ${e.nodeId} executor`, `${formatBytes(peakRssBytes(e.pid))}  (target < 512 MiB)`);
  });
  await storeBench();
  const core = await measureCoreThroughput(EMPTY_TASKS);
  console.log(`\n== scheduler core + SQLite input log alone, ${EMPTY_TASKS} tasks`);
  row("throughput", `${Math.round(core.tasksPerSecond)} tasks/s`);
}

/** The scheduler service on SQLite, then on PostgreSQL (a fresh database) when one is reachable. */
async function storeBench(): Promise<void> {
  const sqlite = await measureSchedulerService(EMPTY_TASKS);
  console.log(`\n== scheduler service, ${EMPTY_TASKS} empty tasks, over gRPC from 4 simulated executors answering at once`);
  row("throughput on SQLite", `${Math.round(sqlite.tasksPerSecond)} tasks/s  (target >= 5,000)`);
  const postgres = await findTestPostgres();
  if (postgres.reason) return row("throughput on PostgreSQL", `not measured: ${postgres.reason}`);
  const database = await createTestDatabase(postgres.url!);
  try {
    const onPostgres = await measureSchedulerService(EMPTY_TASKS, 4, 64, database.url);
    row("throughput on PostgreSQL", `${Math.round(onPostgres.tasksPerSecond)} tasks/s  (local server, group commit)`);
    row("ratio PostgreSQL/SQLite", `${((100 * onPostgres.tasksPerSecond) / sqlite.tasksPerSecond).toFixed(0)}%  (target >= 50%)`);
  } finally {
    await database.drop();
  }
}

const MODES: Record<string, () => Promise<void>> = { tasks: emptyTasksBench, wordcount: wordcountBench, store: storeBench, startup: startupBench, recovery: recoveryBench, decommission: decommissionBench, failover: failoverBench, sort: sortBench, group: groupByKeyBench };

async function main(): Promise<void> {
  const mode = process.argv[2] ?? "wordcount";
  const selected = mode === "all" ? Object.values(MODES) : [MODES[mode]];
  if (!selected[0]) throw new Error(`unknown benchmark "${mode}" (${Object.keys(MODES).join(", ")}, all)`);
  for (const bench of selected) await bench!();
  await shutdownTelemetry();
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
