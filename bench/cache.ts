// `npm run bench -- cache`: the first, second and third action of an application over the
// persisted word counts of the 100 MB corpus, at each storage level, on a 2-node cluster.
import { pathToFileURL } from "node:url";
import { submitProgram } from "@ballast/cli/submit";
import { benchCorpus, quiet, row, seconds, withCluster } from "./support.js";

const LEVELS = ["memory", "disk"] as const;

export async function cacheBench(): Promise<void> {
  const corpus = benchCorpus();
  await withCluster("cache", { nodes: 2 }, async (cluster) => {
    console.log("\n== word counts of the 100 MB corpus, persisted, then count()ed three times by one application, 2 nodes");
    for (const level of LEVELS) {
      const submitted = await submitProgram({
        scheduler: cluster.scheduler,
        staging: cluster.staging,
        jobFile: "bench/jobs/repeated-counts.ts",
        files: [],
        conf: [],
        args: ["--input", pathToFileURL(corpus).href, "--level", level],
        json: false,
        progress: quiet,
      });
      if (submitted.kind !== "application" || !submitted.outcome.ok) throw new Error(`persist("${level}") application failed: ${submitted.outcome.error?.message}`);
      const [first, second, third] = submitted.outcome.jobs.map((job) => job.stats);
      row(`persist("${level}") first action`, `${seconds(first!.clientWallTimeMs)}  (${first!.tasksLaunched} tasks: reads the input, shuffles, keeps the counts)`);
      for (const [label, stats] of [["second", second!], ["third", third!]] as const) {
        row(`persist("${level}") ${label} action`, `${seconds(stats.clientWallTimeMs)}  (${stats.tasksLaunched} tasks, ${stats.cachedPartitionsRead} partitions read from the cache)`);
        row(`  ratio first/${label}`, `${(first!.clientWallTimeMs / stats.clientWallTimeMs).toFixed(1)}x faster  (target: several times)`);
      }
    }
  });
}
