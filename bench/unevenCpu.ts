// `npm run bench -- cpu`: CPU-bound tasks of uneven length on 2 nodes of one slot each. A deep
// executor queue fills both nodes at once; without take-back the node that draws the long tasks
// ends last while the other idles. Effective parallelism (task time / wall time) says how
// close the run came to keeping both slots busy (2.0).
import { submitJob } from "@ballast/cli/submit";
import { unevenSpinMs } from "./jobs/uneven-cpu.js";
import { quiet, row, seconds, withCluster } from "./support.js";

const UNEVEN_TASKS = Number(process.env.BENCH_UNEVEN_TASKS ?? 40);

export async function unevenCpuBench(): Promise<void> {
  const ms = await withCluster("cpu", { nodes: 2, slots: 1 }, async (cluster) => {
    const started = performance.now();
    const outcome = await submitJob({ scheduler: cluster.scheduler, staging: cluster.staging, jobFile: "bench/jobs/uneven-cpu.ts", files: [], conf: [], args: ["--tasks", String(UNEVEN_TASKS)], json: false, progress: quiet });
    if (!outcome.ok) throw new Error(`uneven CPU job failed: ${outcome.error?.message}`);
    return performance.now() - started;
  });
  let taskMs = 0;
  for (let x = 0; x < UNEVEN_TASKS; x++) taskMs += unevenSpinMs(x);
  console.log(`\n== uneven CPU-bound tasks, 2 nodes of 1 slot: ${UNEVEN_TASKS} tasks of 50-450 ms (${seconds(taskMs)} of task time)`);
  row("ballast wall time", `${seconds(ms)}  (submit to result)`);
  row("effective parallelism", `${(taskMs / ms).toFixed(2)} of 2 slots`);
}
