// `npm run bench -- wordcount`: the 100 MB Zipf word count on 2 nodes against a plain
// single-process Node word count of the same file (job wall, and `ballast submit` as a user
// runs it, process start to exit), a map task's MB/s against the single process's, and Dask.
import { spawnSync } from "node:child_process";
import { createReadStream, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { formatBytes } from "@ballast/cli/outcome";
import { builtEntry } from "@ballast/common/entry";
import { jobHistory } from "../test/support/faults.js";
import { daskOutputDir, runDask, versusDask } from "./peers.js";
import { BENCH_DIR, benchCorpus, clusterCpuMs, cpuMsSince, peakRssBytes, row, seconds, stageTimeline, withCluster, wordcount } from "./support.js";

const MAP_PARTITIONS = 8; // examples/wordcount.ts: textFile(..., { minPartitions: 8 })

/** The baseline: stream the file (or bytes [start, end) of it) once, split lines and words, count in a Map. */
export async function singleProcessWordCount(path: string, range?: { start: number; end: number }): Promise<{ ms: number; cpuMs: number; words: number }> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const counts = new Map<string, number>();
  let carry = "";
  const bytes = range && { start: range.start, end: range.end - 1 }; // createReadStream's end is inclusive
  for await (const chunk of createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20, ...bytes })) {
    const text = carry + chunk;
    const lastNewline = text.lastIndexOf("\n");
    carry = text.slice(lastNewline + 1);
    for (const line of text.slice(0, lastNewline).split("\n")) for (const w of line.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  for (const w of carry.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  return { ms: performance.now() - started, cpuMs: cpuMsSince(cpuBefore), words: counts.size };
}

/** `ballast submit --dir` in its own process, spawn to exit (what a user waits for), and that process's own CPU time. */
function cliWordCount(clusterDir: string, corpus: string): { ms: number; cpuMs: number } {
  const output = join(BENCH_DIR, "wc-cli-out");
  const cpuFile = join(BENCH_DIR, "wc-cli-cpu");
  rmSync(output, { recursive: true, force: true });
  const args = [builtEntry("@ballast/cli", "./bin"), "submit", "--dir", clusterDir, "examples/wordcount.ts", "--", "--input", pathToFileURL(corpus).href, "--output", pathToFileURL(output).href];
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${resolve("bench/exitCpu.cjs")}`.trim(), BENCH_EXIT_CPU_FILE: cpuFile };
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 600_000, env });
  const ms = performance.now() - started;
  rmSync(output, { recursive: true, force: true });
  if (run.status !== 0) throw new Error(`ballast submit exited ${run.status}: ${run.stderr.trim().split("\n").at(-1)}`);
  return { ms, cpuMs: Number(readFileSync(cpuFile, "utf8")) };
}

/**
 * CPU time of map tasks each run as a fresh task worker's first task (bench/mapTaskCpu.mjs), in a
 * process of its own, each followed by the baseline over the same eighth of the corpus: CPU time
 * measured in turns, which the shared machine's load moves far less than the wall.
 */
async function mapTaskCpuMs(clusterDir: string, corpus: string, partitions: number[]): Promise<{ task: number[]; single: number[] }> {
  const bundles = join(clusterDir, "node-1", "executor", "bundles");
  const bundle = readdirSync(bundles).find((name) => name.endsWith(".mjs"));
  if (!bundle) throw new Error(`no job bundle in ${bundles}`);
  const eighth = statSync(corpus).size / MAP_PARTITIONS;
  const task: number[] = [];
  const single: number[] = [];
  for (const partition of partitions) {
    const args = [resolve("bench/mapTaskCpu.mjs"), join(bundles, bundle), corpus, String(partition), String(MAP_PARTITIONS)];
    const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 120_000 });
    if (run.status !== 0) throw new Error(`bench/mapTaskCpu.mjs exited ${run.status}: ${run.stderr.trim().split("\n").at(-1)}`);
    task.push(Number(run.stdout.trim()));
    const range = { start: Math.floor(partition * eighth), end: Math.floor((partition + 1) * eighth) };
    single.push((await singleProcessWordCount(corpus, range)).cpuMs);
  }
  return { task, single };
}

const ratioRow = (ratio: number, goal: number, better: "lower" | "higher") =>
  `${ratio.toFixed(2)}x  (goal ${better === "lower" ? "<=" : ">="} ${goal}x: ${(better === "lower" ? ratio <= goal : ratio >= goal) ? "met" : "NOT met"})`;

export async function wordcountBench(): Promise<void> {
  const corpus = benchCorpus();
  const size = statSync(corpus).size;
  const mb = size / 1024 ** 2;
  const baseline = await singleProcessWordCount(corpus);
  await withCluster("wordcount", { nodes: 2 }, async (cluster) => {
    const cpuBefore = clusterCpuMs(cluster);
    const { outcome, ms } = await wordcount(cluster, corpus, "wc-out");
    const jobCpuMs = clusterCpuMs(cluster) - cpuBefore;
    const cli = cliWordCount(cluster.dir, corpus);
    const taskCpu = await mapTaskCpuMs(cluster.dir, corpus, [0, 3, 6]);
    const cliMs = cli.ms;
    const events = await jobHistory(cluster, outcome.jobId);
    const taskMsOfStage = (stageId: number) => events.filter((e) => e.type === "taskEnded" && e.stageId === stageId && e.state === "succeeded").map((e) => Number(e.durationMs));
    const mapMs = taskMsOfStage(0);
    const mapMbPerSecond = mb / MAP_PARTITIONS / (mapMs.reduce((a, b) => a + b, 0) / mapMs.length / 1000);
    const singleMbPerSecond = mb / (baseline.ms / 1000);
    console.log("\n== word count 100 MB, 2 nodes");
    row("corpus", `${formatBytes(size)} (${baseline.words} distinct words)`);
    row("single-process Node", `${seconds(baseline.ms)}  (${singleMbPerSecond.toFixed(1)} MB/s)`);
    row("job wall, submit to result", `${seconds(ms)}  (${(mb / (ms / 1000)).toFixed(1)} MB/s)`);
    row("  ratio job/single", ratioRow(ms / baseline.ms, 0.5, "lower"));
    // The machine is shared: CPU time says what the work cost, whatever the load did to the wall.
    row("cluster CPU for the job", `${seconds(jobCpuMs)}  (all services; single process ${seconds(baseline.cpuMs)} CPU, ratio ${(jobCpuMs / baseline.cpuMs).toFixed(2)}x)`);
    for (const line of stageTimeline(events)) row("  timeline", line);
    // Fetch, compute and commit of a reduce task are the fixed cost after the map stage: each task's time says which round paid what.
    row("  reduce tasks", `${taskMsOfStage(1).map((ms) => ms.toFixed(0)).join(", ")} ms`);
    row("ballast submit, spawn to exit", `${seconds(cliMs)}  (the CLI process's own CPU ${seconds(cli.cpuMs)})`);
    row("  ratio CLI/single", ratioRow(cliMs / baseline.ms, 0.6, "lower"));
    row("vs Dask distributed (CLI time)", versusDask(runDask("dask_wordcount.py", [corpus, daskOutputDir("wc")], daskOutputDir("wc")), cliMs, 5));
    console.log("\n== a map task's MB/s (word count stage 0, one core each) vs the single process");
    row("map task", `${mapMbPerSecond.toFixed(1)} MB/s (mean of ${mapMs.length} tasks)`);
    row("  ratio map task/single", ratioRow(mapMbPerSecond / singleMbPerSecond, 0.8, "higher"));
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const listed = (values: number[]) => values.map((ms) => ms.toFixed(0)).join(", ");
    row("map task CPU, fresh worker", `${listed(taskCpu.task)} ms  (single process, same bytes, in turns: ${listed(taskCpu.single)} ms)`);
    row("  ratio of CPU MB/s, task/single", `${(sum(taskCpu.single) / sum(taskCpu.task)).toFixed(2)}x`);
    row("shuffle bytes written", formatBytes(outcome.stats.shuffleBytesWritten));
    row("tasks", String(outcome.stats.tasksLaunched));
    for (const e of cluster.services.filter((s) => s.name === "executor")) row(`peak RSS ${e.nodeId} executor`, `${formatBytes(peakRssBytes(e.pid))}  (target < 512 MiB)`);
  });
}
