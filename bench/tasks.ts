// `npm run bench -- tasks`: 20,000 empty tasks through real executors on 2 nodes, submit to
// exit, beside Dask distributed with 2 worker processes in the same run.
import { submitJob } from "@ballast/cli/submit";
import { runDask, versusDask } from "./peers.js";
import { cpuMsByService, cpuMsByServiceSince, quiet, row, seconds, totalCpuMs, withCluster } from "./support.js";

export const EMPTY_TASKS = Number(process.env.BENCH_EMPTY_TASKS ?? 20_000);
const GOAL_TASKS_PER_SECOND = 5_000;

export async function emptyTasksBench(): Promise<void> {
  const { ms, byService } = await withCluster("tasks", { nodes: 2 }, async (cluster) => {
    const cpuBefore = cpuMsByService(cluster);
    const started = performance.now();
    const outcome = await submitJob({ scheduler: cluster.scheduler, staging: cluster.staging, jobFile: "bench/jobs/empty-tasks.ts", files: [], conf: [], args: ["--tasks", String(EMPTY_TASKS)], json: false, progress: quiet });
    if (!outcome.ok) throw new Error(`empty-task job failed: ${outcome.error?.message}`);
    if (outcome.stats.tasksLaunched < EMPTY_TASKS) throw new Error(`only ${outcome.stats.tasksLaunched} of ${EMPTY_TASKS} tasks ran`);
    return { ms: performance.now() - started, byService: cpuMsByServiceSince(cluster, cpuBefore) };
  });
  const cpuMs = totalCpuMs(byService);
  const schedulerMs = byService.get("scheduler") ?? 0;
  const usPerTask = (cpu: number): string => ((cpu * 1000) / EMPTY_TASKS).toFixed(0);
  const perSecond = EMPTY_TASKS / (ms / 1000);
  console.log(`\n== empty tasks, 2 nodes, end to end: ${EMPTY_TASKS} tasks, ballast submit to result (real executors, worker threads)`);
  row("ballast wall time", `${seconds(ms)}  (${Math.round(perSecond)} tasks/s; goal >= ${GOAL_TASKS_PER_SECOND.toLocaleString("en")}: ${perSecond >= GOAL_TASKS_PER_SECOND ? "met" : "NOT met"})`);
  // The machine is shared: CPU per task says what the cluster's processes did, whatever the load.
  row("cluster CPU per task", `${usPerTask(cpuMs)} us (all services, user + system); ${Math.round(2000 / (cpuMs / EMPTY_TASKS))} tasks/s if 2 idle cores did only this`);
  row("scheduler CPU per task", `${usPerTask(schedulerMs)} us (the scheduler process alone: one core caps it at ${Math.round(1000 / (schedulerMs / EMPTY_TASKS))} tasks/s)`);
  row("CPU per task by service", `${[...byService].map(([name, cpu]) => `${name} ${usPerTask(cpu)}`).join(", ")} us`);
  const dask = runDask("dask_empty_tasks.py", [String(EMPTY_TASKS)]);
  row("Dask distributed, 2 processes", "missing" in dask ? dask.missing : `${seconds(dask.seconds * 1000)}  (${Math.round(EMPTY_TASKS / dask.seconds)} tasks/s)`);
  row("ballast vs Dask", versusDask(dask, ms, 1).replace(/; goal.*$/, ""));
}
