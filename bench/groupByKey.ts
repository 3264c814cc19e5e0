// `npm run bench -- group`: groupByKey of the 100 MB corpus's words (every value held by the
// reduce side, no map-side combine) on 2 nodes under ballast.executor.memory, with the
// executors' peak RSS beside the goal (<= 768 MiB) and what spilled.
import { rmSync } from "node:fs";
import { formatBytes } from "@ballast/cli/outcome";
import { benchCorpus, peakRssBytes, row, seconds, timedJob, withCluster } from "./support.js";

// Small enough that every reduce task spills (its groups estimate ~35 MB), to measure the spilling path.
const MEMORY = process.env.BENCH_EXECUTOR_MEMORY ?? "16m";
const PARTITIONS = 8;

export async function groupByKeyBench(): Promise<void> {
  const corpus = benchCorpus();
  await withCluster("group", { nodes: 2 }, async (cluster) => {
    const { outcome, ms, output } = await timedJob(cluster, {
      jobFile: "bench/jobs/group-words.ts",
      input: corpus,
      output: "group-out",
      conf: [`ballast.executor.memory=${MEMORY}`],
      args: ["--partitions", String(PARTITIONS)],
    });
    rmSync(output, { recursive: true, force: true });
    if (!outcome.ok) throw new Error(`groupByKey failed: ${outcome.error?.message}`);
    console.log(`\n== groupByKey, 100 MB corpus (word -> positions), 2 nodes, ${PARTITIONS} reduce partitions, ballast.executor.memory=${MEMORY}`);
    row("ballast wall time", `${seconds(ms)}`);
    row("shuffle bytes written", formatBytes(outcome.stats.shuffleBytesWritten));
    row("spills", `${outcome.stats.spills} runs, ${formatBytes(outcome.stats.spilledBytes)}`);
    for (const e of cluster.services.filter((s) => s.name === "executor")) row(`peak RSS ${e.nodeId} executor`, `${formatBytes(peakRssBytes(e.pid))}  (goal <= 768 MiB)`);
  });
}
