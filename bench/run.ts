// `npm run bench [-- tasks|cpu|wordcount|store|core|shell|startup|recovery|decommission|failover|sort|group|memory|cache|endurance|all]`
//   tasks: 20,000 empty tasks end to end on 2 nodes, beside Dask distributed.
//   cpu: 40 CPU-bound tasks of uneven length on 2 one-slot nodes (queue depth and take-back).
//   wordcount (default): 100 MB Zipf word count on 2 nodes versus a single-process Node word
//   count (job wall, CLI spawn to exit, a map task's MB/s) and Dask.
//   sort: TeraSort 200 MB with its validator and Dask. memory: groupByKey, join, sort over 1 GB, peak RSS.
//   store: scheduler-service throughput on SQLite and on PostgreSQL; core: the core alone too.
//   shell: the scheduler's shell, core and SQLite store in one process, CPU per empty task.
//   cache: persisted 100 MB dataset, three actions. endurance: 1,000 small jobs, scheduler RSS and store size.
import { createReadStream, statSync } from "node:fs";
import { formatBytes } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import { shutdownTelemetry } from "@ballast/common/telemetry";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import { measureCoreThroughput, measureSchedulerService } from "./coreThroughput.js";
import { cacheBench } from "./cache.js";
import { groupByKeyBench } from "./groupByKey.js";
import { enduranceBench } from "./endurance.js";
import { memoryBench } from "./memory.js";
import { decommissionBench, failoverBench, recoveryBench } from "./scenarios.js";
import { schedulerShellBench } from "./schedulerShell.js";
import { sortBench } from "./sort.js";
import { EMPTY_TASKS, emptyTasksBench } from "./tasks.js";
import { startupBench } from "./startup.js";
import { unevenCpuBench } from "./unevenCpu.js";
import { wordcountBench } from "./wordcount.js";
import { row } from "./support.js";


async function coreBench(): Promise<void> {
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

const MODES: Record<string, () => Promise<void>> = { tasks: emptyTasksBench, wordcount: wordcountBench, store: storeBench, core: coreBench, shell: schedulerShellBench, startup: startupBench, recovery: recoveryBench, decommission: decommissionBench, failover: failoverBench, sort: sortBench, group: groupByKeyBench, memory: memoryBench, cache: cacheBench, endurance: enduranceBench, cpu: unevenCpuBench };

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
