// Shared pieces of the benchmarks: the corpus, a cluster per run, word count submission.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startCluster, stopCluster, type ClusterDescription, type ClusterOptions } from "@ballast/cli/cluster";
import type { JobOutcome } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import { ensureSecretFile, mintToken, readSecretFile } from "@ballast/common/auth";
import { configureSecurity } from "@ballast/common/security";
import { generateCorpus } from "../scripts/corpus.js";

export const BENCH_DIR = resolve(".bench");
export const CORPUS_BYTES = 100 * 1024 * 1024;
/** A progress sink that drops everything: benchmarks print their own figures. */
export const quiet = { write: () => true } as unknown as NodeJS.WriteStream;

/** The 100 MB Zipf corpus (seed 42), generated once and reused. */
export function benchCorpus(): string {
  mkdirSync(BENCH_DIR, { recursive: true });
  const corpus = join(BENCH_DIR, "corpus-100m.txt");
  if (!existsSync(corpus) || statSync(corpus).size < CORPUS_BYTES) {
    console.log("generating a 100 MB Zipf corpus (seed 42)...");
    generateCorpus(corpus, CORPUS_BYTES, 42);
  }
  return corpus;
}

/**
 * Authentication is on in benchmarks as in production: one cluster secret in .bench/secret, in
 * BALLAST_SECRET_FILE for the services a benchmark spawns, and this process calls as the cluster.
 */
export function benchSecurity(): void {
  mkdirSync(BENCH_DIR, { recursive: true });
  const file = join(BENCH_DIR, "secret");
  ensureSecretFile(file);
  process.env.BALLAST_SECRET_FILE = file;
  const secret = readSecretFile(file);
  configureSecurity({ secret, token: mintToken(secret, { role: "cluster" }) });
}

/** CPU profiles of the cluster's processes when BENCH_CPU_PROF names a directory (bench/cpuProfile.cjs). */
function profilingEnv(): Record<string, string> {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? { NODE_OPTIONS: `--require ${resolve("bench/cpuProfile.cjs")}`, BENCH_CPU_PROF: resolve(dir) } : {};
}

/** A fresh local cluster for one benchmark (profiled when BENCH_CPU_PROF is set), stopped after `body`. */
export async function withCluster<T>(name: string, options: Partial<ClusterOptions>, body: (cluster: ClusterDescription) => Promise<T>): Promise<T> {
  const dir = join(BENCH_DIR, `cluster-${name}`);
  rmSync(dir, { recursive: true, force: true });
  benchSecurity();
  const cluster = await startCluster({ nodes: 2, ports: "auto", ...options, env: { ...options.env, ...profilingEnv() }, dir });
  try {
    return await body(cluster);
  } finally {
    await stopCluster(dir);
  }
}

/** A job file over one input, writing (when it writes) to BENCH_DIR/`output`. */
export interface TimedJob {
  jobFile: string;
  input: string;
  output?: string;
  args?: string[];
  conf?: string[];
}

/** Submits the job (its output directory emptied first) and times it, submit to result; a failed job is returned, not thrown. */
export async function timedJob(cluster: ClusterDescription, job: TimedJob): Promise<{ outcome: JobOutcome; ms: number; output: string }> {
  const output = join(BENCH_DIR, job.output ?? "unused-out");
  rmSync(output, { recursive: true, force: true });
  const started = performance.now();
  const outcome = await submitJob({
    scheduler: cluster.scheduler,
    staging: cluster.staging,
    jobFile: job.jobFile,
    files: [],
    conf: job.conf ?? [],
    args: ["--input", pathToFileURL(job.input).href, ...(job.output ? ["--output", pathToFileURL(output).href] : []), ...(job.args ?? [])],
    json: false,
    progress: quiet,
  });
  return { outcome, ms: performance.now() - started, output };
}

/** Runs examples/wordcount.ts over the corpus; returns the outcome and the wall time (submit to result). */
export async function wordcount(cluster: ClusterDescription, corpus: string, outName: string): Promise<{ outcome: JobOutcome; ms: number }> {
  const { outcome, ms } = await timedJob(cluster, { jobFile: "examples/wordcount.ts", input: corpus, output: outName });
  if (!outcome.ok) throw new Error(`word count failed: ${outcome.error?.message}`);
  return { outcome, ms };
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const row = (label: string, value: string) => console.log(`${label.padEnd(34)}${value}`);

/** A process's peak resident set size (VmHWM), Linux only. */
export function peakRssBytes(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

/** User + system CPU time of a live process, from /proc (clock ticks of 10 ms); 0 once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * Where a job's wall time went, from its history events: each stage's start and end after
 * the job was submitted, and the sum of its tasks' run times (what the slots were busy with).
 */
export function stageTimeline(events: Array<Record<string, any>>): string[] {
  const submitted = events.find((e) => e.type === "jobSubmitted");
  if (!submitted) return ["no jobSubmitted event in history"];
  const at = (e: Record<string, any> | undefined) => (e ? `+${seconds(Number(e.timeMs) - Number(submitted.timeMs))}` : "?");
  const stages = [...new Set(events.filter((e) => e.type === "stageSubmitted").map((e) => Number(e.stageId)))].sort((a, b) => a - b);
  const lines = stages.map((stage) => {
    const started = events.find((e) => e.type === "stageSubmitted" && Number(e.stageId) === stage);
    const ended = events.filter((e) => e.type === "stageEnded" && Number(e.stageId) === stage).at(-1);
    const taskMs = events.filter((e) => e.type === "taskEnded" && Number(e.stageId) === stage).reduce((sum, e) => sum + Number(e.durationMs), 0);
    return `stage ${stage} (${started?.name ?? "?"}): ${at(started)} to ${at(ended)}, tasks ${seconds(taskMs)} in all`;
  });
  return [...lines, `job ended ${at(events.find((e) => e.type === "jobEnded"))}`];
}

/** User + system CPU time of this process since `before` (a process.cpuUsage() reading). */
export function cpuMsSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** CPU time used so far by every process of a local cluster. */
export const clusterCpuMs = (cluster: ClusterDescription) => cluster.services.reduce((sum, s) => sum + processCpuMs(s.pid), 0);

/** CPU time used so far per kind of service (both executors under "executor"): where a cluster's CPU goes. */
export function cpuMsByService(cluster: ClusterDescription): Map<string, number> {
  const byService = new Map<string, number>();
  for (const s of cluster.services) byService.set(s.name, (byService.get(s.name) ?? 0) + processCpuMs(s.pid));
  return byService;
}

/** CPU time per kind of service since `before` (a cpuMsByService reading). */
export function cpuMsByServiceSince(cluster: ClusterDescription, before: Map<string, number>): Map<string, number> {
  return new Map([...cpuMsByService(cluster)].map(([name, ms]) => [name, ms - (before.get(name) ?? 0)]));
}

/** The whole cluster's share of a cpuMsByService(Since) reading. */
export const totalCpuMs = (byService: Map<string, number>): number => [...byService.values()].reduce((sum, ms) => sum + ms, 0);
