// `npm run bench -- group`: groupByKey of the 100 MB corpus's words (every value held by the
// reduce side, no map-side combine) on 2 nodes under ballast.executor.memory, with the
// executors' peak RSS beside the goal (<= 768 MiB) and what spilled.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { formatBytes } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import { BENCH_DIR, benchCorpus, peakRssBytes, quiet, row, seconds, withCluster } from "./support.js";

// Small enough that every reduce task spills (its groups estimate ~35 MB), to measure the spilling path.
const MEMORY = process.env.BENCH_EXECUTOR_MEMORY ?? "16m";
const PARTITIONS = 8;

export async function groupByKeyBench(): Promise<void> {
  const corpus = benchCorpus();
  await withCluster("group", { nodes: 2 }, async (cluster) => {
    const output = join(BENCH_DIR, "group-out");
    rmSync(output, { recursive: true, force: true });
    const started = performance.now();
    const outcome = await submitJob({
      scheduler: cluster.scheduler,
      staging: cluster.staging,
      jobFile: "bench/jobs/group-words.ts",
      files: [],
      conf: [`ballast.executor.memory=${MEMORY}`],
      args: ["--input", pathToFileURL(corpus).href, "--output", pathToFileURL(output).href, "--partitions", String(PARTITIONS)],
      json: false,
      progress: quiet,
    });
    const ms = performance.now() - started;
    rmSync(output, { recursive: true, force: true });
    if (!outcome.ok) throw new Error(`groupByKey failed: ${outcome.error?.message}`);
    console.log(`\n== groupByKey, 100 MB corpus (word -> positions), 2 nodes, ${PARTITIONS} reduce partitions, ballast.executor.memory=${MEMORY}`);
    row("ballast wall time", `${seconds(ms)}`);
    row("shuffle bytes written", formatBytes(outcome.stats.shuffleBytesWritten));
    row("spills", `${outcome.stats.spills} runs, ${formatBytes(outcome.stats.spilledBytes)}`);
    for (const e of cluster.services.filter((s) => s.name === "executor")) row(`peak RSS ${e.nodeId} executor`, `${formatBytes(peakRssBytes(e.pid))}  (goal <= 768 MiB)`);
  });
}
