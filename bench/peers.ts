// Dask distributed (Debian's python3-distributed) as the peer the issue measures against, in
// the same run: each scenario is a script under bench/peers/ that prints one JSON line.
import { execFileSync, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BENCH_DIR } from "./support.js";

const PEERS_DIR = new URL("./peers/", import.meta.url).pathname;
/** Debian's interpreter, where python3-distributed installs (a pyenv python3 on PATH would not see it). */
const PYTHON = process.env.BENCH_DASK_PYTHON ?? "/usr/bin/python3";
/** A Dask run that takes longer than this is reported as failed, never waited out. */
const PEER_TIMEOUT_MS = 15 * 60_000;

let available: boolean | undefined;

/** Whether `import distributed` works here (checked once per run). */
export function daskInstalled(): boolean {
  if (available === undefined) {
    try {
      execFileSync(PYTHON, ["-c", "import distributed, dask.bag, dask.dataframe"], { stdio: "ignore" });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

export type PeerResult = { seconds: number } | { missing: string };

/** Runs bench/peers/<script> with `args`; its output dir (if any) is removed afterwards. */
export function runDask(script: string, args: string[], outputDir?: string): PeerResult {
  if (!daskInstalled()) return { missing: "Dask not installed (apt-get install -y python3-distributed)" };
  if (outputDir) rmSync(outputDir, { recursive: true, force: true });
  const run = spawnSync(PYTHON, [join(PEERS_DIR, script), ...args], { encoding: "utf8", cwd: PEERS_DIR, timeout: PEER_TIMEOUT_MS, maxBuffer: 16 << 20 });
  if (outputDir) rmSync(outputDir, { recursive: true, force: true });
  const last = run.stdout?.trim().split("\n").at(-1) ?? "";
  if (run.status !== 0 || !last.startsWith("{")) return { missing: `Dask run failed (${run.error?.message ?? `exit ${run.status}`}): ${(run.stderr ?? "").trim().split("\n").at(-1) ?? ""}` };
  return JSON.parse(last) as { seconds: number };
}

export const daskOutputDir = (name: string) => join(BENCH_DIR, `dask-${name}-out`);

/** "Ns (ballast Rx faster)" beside a goal, or why Dask was not measured. */
export function versusDask(peer: PeerResult, ballastMs: number, goalTimesFaster: number): string {
  if ("missing" in peer) return `${peer.missing}; goal: >= ${goalTimesFaster}x faster than Dask`;
  const faster = (peer.seconds * 1000) / ballastMs;
  return `Dask ${peer.seconds.toFixed(2)} s; ballast ${faster.toFixed(2)}x faster  (goal >= ${goalTimesFaster}x: ${faster >= goalTimesFaster ? "met" : "NOT met"})`;
}
