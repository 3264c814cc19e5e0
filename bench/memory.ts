// `npm run bench -- memory`: groupByKey, join and sort over 1 GB of input (BENCH_MEMORY_BYTES)
// on 2 nodes, each job on a fresh cluster, with every executor's peak RSS beside the 768 MiB goal.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatBytes, type JobOutcome } from "@ballast/cli/outcome";
import { generateCorpus } from "../scripts/corpus.js";
import { RECORD_BYTES, writeTeraSortInput } from "../test/support/teraSort.js";
import { checkGroupedWords, checkJoinCount, checkSorted, type Check } from "./memoryChecks.js";
import { BENCH_DIR, peakRssBytes, row, seconds, timedJob, withCluster } from "./support.js";

const BYTES = parseSize(process.env.BENCH_MEMORY_BYTES ?? "1g");
const GOAL_RSS = 768 * 1024 ** 2;

function parseSize(text: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(text.trim());
  if (!match) throw new Error(`BENCH_MEMORY_BYTES must look like 1g or 300m, got ${text}`);
  return Number(match[1]) * 1024 ** "_kmg".indexOf((match[2] || "_").toLowerCase());
}

/** An input of BYTES, generated once per size and reused. */
function input(name: string, generate: (path: string) => void): string {
  mkdirSync(BENCH_DIR, { recursive: true });
  const path = join(BENCH_DIR, `${name}-${BYTES}.txt`);
  if (!existsSync(path) || statSync(path).size < BYTES * 0.99) {
    console.log(`generating ${formatBytes(BYTES)} of ${name} input...`);
    generate(path);
  }
  return path;
}

interface MemoryCase {
  name: string;
  jobFile: string;
  input: () => string;
  args: string[];
  /** Writes part files to --output. */
  writesOutput: boolean;
  /** Checks a succeeded job's result or part files against its input. */
  check: (outcome: JobOutcome, output: string, input: string) => Check;
}

const CASES: MemoryCase[] = [
  { name: "groupByKey", jobFile: "bench/jobs/group-words.ts", input: () => input("corpus", (p) => generateCorpus(p, BYTES, 42)), args: ["--partitions", "16"], writesOutput: true, check: (_outcome, output, input) => checkGroupedWords(output, input) },
  { name: "join", jobFile: "bench/jobs/join-words.ts", input: () => input("corpus", (p) => generateCorpus(p, BYTES, 42)), args: ["--partitions", "16"], writesOutput: false, check: (outcome, _output, input) => checkJoinCount(outcome, input) },
  { name: "sort", jobFile: "examples/sort.ts", input: () => input("terasort", (p) => void writeFileSync(`${p}.json`, JSON.stringify(writeTeraSortInput(p, Math.floor(BYTES / RECORD_BYTES), 3)))), args: ["--partitions", "16", "--minPartitions", "16"], writesOutput: true, check: (_outcome, output, input) => checkSorted(output, input) },
];

async function runCase(c: MemoryCase): Promise<void> {
  const path = c.input();
  await withCluster(`memory-${c.name}`, { nodes: 2 }, async (cluster) => {
    const started = performance.now();
    const { outcome, ms, output } = await timedJob(cluster, { jobFile: c.jobFile, input: path, output: c.writesOutput ? `memory-${c.name}-out` : undefined, args: c.args }).catch(
      (err: Error) => ({ outcome: { ok: false as const, error: { message: err.message }, stats: undefined }, ms: performance.now() - started, output: "" }),
    );
    const rss = cluster.services.filter((s) => s.name === "executor").map((e) => ({ node: e.nodeId, bytes: peakRssBytes(e.pid) }));
    const check = outcome.ok ? c.check(outcome as JobOutcome, output, path) : undefined;
    if (output) rmSync(output, { recursive: true, force: true });
    console.log(`\n== ${c.name} over ${formatBytes(statSync(path).size)}, 2 nodes, default ballast.executor.memory and totalMemory`);
    row("outcome", outcome.ok ? `succeeded in ${seconds(ms)}` : `FAILED after ${seconds(ms)}: ${outcome.error?.message}`);
    if (check) row("validator", `${check.ok ? "" : "FAILED: "}${check.text}`);
    if (outcome.ok && outcome.stats) row("spills", `${outcome.stats.spills} runs, ${formatBytes(outcome.stats.spilledBytes)}; shuffle ${formatBytes(outcome.stats.shuffleBytesWritten)}`);
    const valid = outcome.ok && check?.ok === true;
    for (const { node, bytes } of rss) row(`peak RSS ${node} executor`, `${formatBytes(bytes)}  (goal <= 768 MiB: ${valid && bytes <= GOAL_RSS ? "met" : "NOT met"})`);
  });
}

export async function memoryBench(): Promise<void> {
  const only = process.env.BENCH_MEMORY_CASES?.split(",");
  for (const c of CASES) if (!only || only.includes(c.name)) await runCase(c);
}
