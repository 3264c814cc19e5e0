import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster, stopCluster, type ClusterDescription, type ClusterOptions } from "@ballast/cli/cluster";
import { builtEntry } from "@ballast/common/entry";
import { showLogsOnFailure } from "./serviceLogs.js";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BIN = builtEntry("@ballast/cli", "./bin");

export interface TestCluster extends ClusterDescription {
  stop(): Promise<void>;
}

/** A real local cluster (the launcher behind `ballast up`) on free loopback ports, in a temp dir. */
export async function startTestCluster(options: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ballast-test-"));
  const cluster = await startCluster({ ports: "auto", nodes: 2, ...options, dir });
  const forgetLogs = showLogsOnFailure(join(dir, "logs"));
  return {
    ...cluster,
    stop: async () => {
      forgetLogs();
      await stopCluster(dir, 3000);
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  /** What it has written so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when stderr or stdout contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts the real `ballast` command, for tests that act on it while it runs (signals, output so far). */
export function spawnCli(args: string[], timeoutMs = 240_000): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, BALLAST_LOG_LEVEL: "warn" } });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  const onOutput = () => waiters.forEach((check) => check());
  child.stdout!.on("data", (d) => ((stdout += d), onOutput()));
  child.stderr!.on("data", (d) => ((stderr += d), onOutput()));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ballast ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  const waitFor = (text: string | RegExp, waitMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const seen = () => (typeof text === "string" ? (stdout + stderr).includes(text) : text.test(stdout + stderr));
      const timer = setTimeout(() => finish(new Error(`ballast ${args.join(" ")} never printed ${text}\nstdout: ${stdout}\nstderr: ${stderr}`)), waitMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        waiters.delete(check);
        err ? reject(err) : resolve();
      };
      const check = () => void (seen() && finish());
      waiters.add(check);
      check();
      void done.then(() => finish(seen() ? undefined : new Error(`ballast ${args.join(" ")} ended without printing ${text}\nstdout: ${stdout}\nstderr: ${stderr}`)));
    });
  return { child, output: () => ({ stdout, stderr }), waitFor, done };
}

/** Runs the real `ballast` command. */
export function runCli(args: string[], timeoutMs = 240_000): Promise<CliResult> {
  return spawnCli(args, timeoutMs).done;
}

/** The JSON line `ballast submit --json` ends with. */
export function lastJson(stdout: string): any {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line);
}
