import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster, stopCluster, type ClusterDescription, type ClusterOptions } from "@ballast/cli/cluster";
import { builtEntry } from "@ballast/common/entry";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BIN = builtEntry("@ballast/cli", "./bin");

export interface TestCluster extends ClusterDescription {
  stop(): Promise<void>;
}

/** A real local cluster (the launcher behind `ballast up`) on free loopback ports, in a temp dir. */
export async function startTestCluster(options: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ballast-test-"));
  const cluster = await startCluster({ ports: "auto", nodes: 2, ...options, dir });
  return {
    ...cluster,
    stop: async () => {
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

/** Runs the real `ballast` command. */
export function runCli(args: string[], timeoutMs = 240_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, BALLAST_LOG_LEVEL: "warn" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ballast ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The JSON line `ballast submit --json` ends with. */
export function lastJson(stdout: string): any {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line);
}
