// `npm run bench`: word count of a 100 MB Zipf corpus on a 2-node local cluster versus a plain
// single-process word count of the same file, executor peak RSS, and scheduler throughput.
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startCluster, stopCluster } from "../packages/cli/src/cluster.js";
import { formatBytes } from "../packages/cli/src/outcome.js";
import { submitJob } from "../packages/cli/src/submit.js";
import { shutdownTelemetry } from "../packages/common/src/telemetry.js";
import { generateCorpus } from "../scripts/corpus.js";
import { measureCoreThroughput } from "./coreThroughput.js";

const DIR = resolve(".bench");
const CORPUS_BYTES = 100 * 1024 * 1024;
const EMPTY_TASKS = Number(process.env.BENCH_EMPTY_TASKS ?? 20_000);

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

function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

const quiet = { write: () => true } as unknown as NodeJS.WriteStream;

async function main(): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  const corpus = join(DIR, "corpus-100m.txt");
  if (!existsSync(corpus) || statSync(corpus).size < CORPUS_BYTES) {
    console.log("generating a 100 MB Zipf corpus (seed 42)...");
    generateCorpus(corpus, CORPUS_BYTES, 42);
  }
  const size = statSync(corpus).size;

  const baseline = await singleProcessWordCount(corpus);
  const cluster = await startCluster({ dir: join(DIR, "cluster"), nodes: 2, ports: "auto" });
  try {
    const output = join(DIR, "wc-out");
    rmSync(output, { recursive: true, force: true });
    const started = performance.now();
    const wc = await submitJob({
      scheduler: cluster.scheduler,
      staging: cluster.staging,
      jobFile: "examples/wordcount.ts",
      files: [],
      conf: [],
      args: ["--input", pathToFileURL(corpus).href, "--output", pathToFileURL(output).href],
      json: false,
      progress: quiet,
    });
    const wcMs = performance.now() - started;
    if (!wc.ok) throw new Error(`word count failed: ${wc.error?.message}`);
    const executors = cluster.services.filter((s) => s.name === "executor");

    console.log("\n== word count, 100 MB, 2 nodes");
    console.log(`corpus                      ${formatBytes(size)} (${baseline.words} distinct words)`);
    console.log(`ballast wall time           ${(wcMs / 1000).toFixed(2)} s  (${(size / 1024 ** 2 / (wcMs / 1000)).toFixed(1)} MB/s)`);
    console.log(`single-process wall time    ${(baseline.ms / 1000).toFixed(2)} s  (${(size / 1024 ** 2 / (baseline.ms / 1000)).toFixed(1)} MB/s)`);
    console.log(`ratio ballast/single        ${(wcMs / baseline.ms).toFixed(2)}x  (target <= 1.0x)`);
    console.log(`shuffle bytes written       ${formatBytes(wc.stats.shuffleBytesWritten)}`);
    console.log(`tasks                       ${wc.stats.tasksLaunched}`);
    for (const e of executors) console.log(`peak RSS ${e.nodeId} executor   ${formatBytes(peakRssBytes(e.pid))}  (target < 512 MiB)`);

    const emptyStarted = performance.now();
    const empty = await submitJob({
      scheduler: cluster.scheduler,
      staging: cluster.staging,
      jobFile: "bench/jobs/empty-tasks.ts",
      files: [],
      conf: [],
      args: ["--tasks", String(EMPTY_TASKS)],
      json: false,
      progress: quiet,
    });
    const emptyMs = performance.now() - emptyStarted;
    if (!empty.ok) throw new Error(`empty-task job failed: ${empty.error?.message}`);
    console.log(`\n== ${EMPTY_TASKS} empty tasks, end to end on the cluster (4 slots)`);
    console.log(`wall time                   ${(emptyMs / 1000).toFixed(2)} s  (${Math.round(EMPTY_TASKS / (emptyMs / 1000))} tasks/s)`);
  } finally {
    await stopCluster(cluster.dir);
    await shutdownTelemetry();
  }

  const core = measureCoreThroughput(EMPTY_TASKS);
  console.log(`\n== scheduler core alone, ${EMPTY_TASKS} tasks, executors answering instantly`);
  console.log(`throughput                  ${Math.round(core.tasksPerSecond)} tasks/s  (target >= 5,000)`);
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
