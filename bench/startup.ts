// Start-up latency of the product as users meet it: `ballast --help`, and each service from spawn
// to SERVING on gRPC health. The median of several runs, since one start on a busy 2-core machine
// says little.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "@ballast/cli/cluster";
import { builtEntry } from "@ballast/common/entry";
import { isServing } from "@ballast/common/grpc";
import { benchSecurity, processCpuMs, row } from "./support.js";

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 5);
const HELP_GOAL_MS = 150;
const SERVICE_GOAL_MS = 400;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** `ballast --help` through the installed bin, spawn to exit. */
function measureHelp(): number[] {
  const bin = builtEntry("@ballast/cli", "./bin");
  return Array.from({ length: RUNS }, () => {
    const started = performance.now();
    const result = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`ballast --help exited ${result.status}: ${result.stderr}`);
    return performance.now() - started;
  });
}

interface Started {
  child: ChildProcess;
  address: string;
  ms: number;
  /** CPU time the process used until SERVING: what a quiet machine's wall time would be, near enough. */
  cpuMs: number;
}

/** Whether something accepts TCP connections at host:port: a cheap probe that does not steal the starting process's CPU. */
function accepts(address: string): Promise<boolean> {
  const colon = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/**
 * Spawns a service's built entry and waits until a gRPC health check says SERVING. It probes the
 * port cheaply first: a health client dialled every few milliseconds would compete for the two
 * cores with the very process being measured.
 */
async function startService(name: string, args: string[], dataDir: string): Promise<Started> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  benchSecurity();
  const started = performance.now();
  const child = spawn(process.execPath, [builtEntry(`@ballast/${name}`), "--address", address, "--data-dir", dataDir, ...args], {
    stdio: "ignore",
    env: { ...process.env, BALLAST_LOG_LEVEL: "warn" },
  });
  const deadline = started + 30_000;
  while (!(await accepts(address)) || !(await isServing(address, 200))) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} during start-up`);
    if (performance.now() > deadline) throw new Error(`${name} did not report SERVING within 30 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const ms = performance.now() - started;
  return { child, address, ms, cpuMs: processCpuMs(child.pid!) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

/** One round: every service once, the executor last since it needs the others' addresses. */
async function startRound(dir: string): Promise<Record<string, Started>> {
  const running: Started[] = [];
  try {
    const start = async (name: string, args: string[] = []) => {
      const s = await startService(name, args, join(dir, `${name}-${running.length}`));
      running.push(s);
      return s;
    };
    const scheduler = await start("scheduler");
    const staging = await start("staging");
    const history = await start("history", ["--http-address", `127.0.0.1:${await freePort()}`]);
    const shuffle = await start("shuffle", ["--node-id", "bench-node"]);
    const executor = await start("executor", ["--scheduler", scheduler.address, "--shuffle", shuffle.address, "--staging", staging.address, "--node-id", "bench-node", "--slots", "1"]);
    return { scheduler, staging, history, shuffle, executor };
  } finally {
    await Promise.all(running.map((s) => stop(s.child)));
  }
}

export async function startupBench(): Promise<void> {
  console.log(`\n== start-up, median of ${RUNS} runs (built JavaScript, no transpiler)`);
  row("ballast --help", `${median(measureHelp()).toFixed(0)} ms  (goal <= ${HELP_GOAL_MS} ms)`);
  const dir = mkdtempSync(join(tmpdir(), "ballast-startup-"));
  try {
    const rounds: Record<string, Started>[] = [];
    for (let i = 0; i < RUNS; i++) rounds.push(await startRound(join(dir, String(i))));
    for (const name of Object.keys(rounds[0]!)) {
      const wall = median(rounds.map((r) => r[name]!.ms));
      const cpu = median(rounds.map((r) => r[name]!.cpuMs));
      row(`${name}: spawn to SERVING`, `${wall.toFixed(0)} ms, ${cpu} ms of CPU  (goal <= ${SERVICE_GOAL_MS} ms)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
