// `npm run bench -- sort`: TeraSort-style sort of 200 MB of 100-byte records on 2 nodes,
// checked by the validator (globally sorted, complete), beside its goal (>= 3x faster than Dask).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatBytes } from "@ballast/cli/outcome";
import { partFileLines, RECORD_BYTES, validateSortedLines, writeTeraSortInput, type RecordSetSummary } from "../test/support/teraSort.js";
import { jobHistory } from "../test/support/faults.js";
import { daskOutputDir, runDask, versusDask } from "./peers.js";
import { BENCH_DIR, cpuMsByService, cpuMsByServiceSince, cpuMsSince, row, seconds, stageTimeline, timedJob, totalCpuMs, withCluster } from "./support.js";

const SORT_BYTES = 200 * 1024 * 1024;
const SORT_PARTITIONS = 8;

/** The input (seed 3) and what the validator must find, generated once and reused. */
function sortInput(): { path: string; expected: RecordSetSummary } {
  mkdirSync(BENCH_DIR, { recursive: true });
  const path = join(BENCH_DIR, "terasort-200m.txt");
  const summaryPath = `${path}.json`;
  if (!existsSync(path) || !existsSync(summaryPath)) {
    console.log("generating 200 MB of 100-byte records (seed 3)...");
    writeFileSync(summaryPath, JSON.stringify(writeTeraSortInput(path, Math.floor(SORT_BYTES / RECORD_BYTES), 3)));
  }
  return { path, expected: JSON.parse(readFileSync(summaryPath, "utf8")) as RecordSetSummary };
}

/** For scale: one process reads, sorts by key and writes the same records. */
function singleProcessSort(input: string, output: string): { ms: number; cpuMs: number } {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const lines = readFileSync(input, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const keyed = lines.map((line) => [line.slice(0, 10), line] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  writeFileSync(output, keyed.map((entry) => entry[1]).join("\n") + "\n");
  return { ms: performance.now() - started, cpuMs: cpuMsSince(cpuBefore) };
}

export async function sortBench(): Promise<void> {
  const { path, expected } = sortInput();
  const baselineOut = join(BENCH_DIR, "terasort-single.txt");
  const baseline = singleProcessSort(path, baselineOut);
  rmSync(baselineOut, { force: true });
  await withCluster("sort", { nodes: 2 }, async (cluster) => {
    const cpuBefore = cpuMsByService(cluster);
    const { outcome, ms, output } = await timedJob(cluster, { jobFile: "examples/sort.ts", input: path, output: "sort-out", args: ["--partitions", String(SORT_PARTITIONS)] });
    if (!outcome.ok) throw new Error(`sort failed: ${outcome.error?.message}`);
    const serviceCpu = cpuMsByServiceSince(cluster, cpuBefore);
    const jobCpuMs = totalCpuMs(serviceCpu);
    const validation = validateSortedLines(partFileLines(output));
    const complete = validation.records === expected.records && validation.checksum === expected.checksum;
    console.log(`\n== sort, ${formatBytes(expected.records * RECORD_BYTES)} of ${RECORD_BYTES}-byte records (10-byte keys), 2 nodes, ${SORT_PARTITIONS} partitions`);
    row("ballast wall time", `${seconds(ms)}  (${(expected.records * RECORD_BYTES / 1024 ** 2 / (ms / 1000)).toFixed(1)} MB/s)`);
    row("validator", `${validation.firstDisorder ? `NOT SORTED (${validation.firstDisorder})` : "globally sorted"}, ${complete ? "complete" : `INCOMPLETE (${validation.records} of ${expected.records} records, checksum ${validation.checksum === expected.checksum ? "ok" : "differs"})`}`);
    row("single-process sort (for scale)", `${seconds(baseline.ms)}  (ratio ballast/single ${(ms / baseline.ms).toFixed(2)}x)`);
    // The machine is shared: CPU time says what the work cost, whatever the load did to the wall.
    row("cluster CPU for the job", `${seconds(jobCpuMs)}  (all services; single process ${seconds(baseline.cpuMs)} CPU, ratio ${(jobCpuMs / baseline.cpuMs).toFixed(2)}x)`);
    row("  by service", [...serviceCpu].map(([name, ms]) => `${name} ${seconds(ms)}`).join(", "));
    for (const line of stageTimeline(await jobHistory(cluster, outcome.jobId))) row("  timeline", line);
    row("shuffle bytes written", formatBytes(outcome.stats.shuffleBytesWritten));
    // The sampled bounds' balance: a range twice another's size is a reduce task twice as long.
    const parts = readdirSync(output).filter((name) => name.startsWith("part-")).map((name) => statSync(join(output, name)).size);
    row("sorted partitions", `${parts.map((bytes) => formatBytes(bytes)).join(", ")}  (largest/smallest ${(Math.max(...parts) / Math.max(1, Math.min(...parts))).toFixed(2)})`);
    row("tasks", String(outcome.stats.tasksLaunched));
    row("vs Dask distributed", versusDask(runDask("dask_sort.py", [path, daskOutputDir("sort"), String(SORT_PARTITIONS)], daskOutputDir("sort")), ms, 3));
    rmSync(output, { recursive: true, force: true });
    if (validation.firstDisorder || !complete) throw new Error("sort output failed validation");
  });
}
