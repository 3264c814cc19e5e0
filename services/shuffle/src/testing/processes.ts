// Helpers for tests that run the shuffle service as a real process.
import { spawn, type ChildProcess } from "node:child_process";
import { builtEntry } from "@ballast/common/entry";

export const MAIN = builtEntry("@ballast/shuffle");

export { freePort } from "@ballast/common/ports";

/** Starts main.ts and resolves once it logs that it is listening (at info level, whatever the test run's level). */
export async function startService(address: string, dataDir: string, nodeId = "node-a"): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, "--address", address, "--data-dir", dataDir, "--node-id", nodeId], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BALLAST_LOG_LEVEL: "info" },
  });
  let stderr = "";
  let listening = false;
  await new Promise<void>((resolve, reject) => {
    // Keep reading stderr after start, so the child never blocks on a full pipe.
    child.stderr!.on("data", (data: Buffer) => {
      if (listening) return;
      stderr += data.toString();
      listening = stderr.includes("gRPC server listening");
      if (listening) resolve();
    });
    child.once("exit", (code) => reject(new Error(`shuffle service exited with ${code}: ${stderr}`)));
  });
  return child;
}

export async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

/** After a restart the client's channel is in reconnect backoff: retry like the executor would. */
export async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
