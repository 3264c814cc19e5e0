import { spawn, type ChildProcess } from "node:child_process";
import { HistoryServiceClient } from "@ballast/gen/history";
import { createClient } from "@ballast/common/grpc";
import { builtEntry } from "@ballast/common/entry";

/** Test helper: the real history process (main.ts) on free ports. */

export const HISTORY_MAIN = builtEntry("@ballast/history");

export interface RunningHistoryProcess {
  child: ChildProcess;
  grpcAddress: string;
  httpUrl: string;
  client: HistoryServiceClient;
}

/** Starts main.ts on free ports and waits for its "history UI at" log line; the caller kills `child`. */
export function startHistoryProcess(dataDir: string): Promise<RunningHistoryProcess> {
  const args = [HISTORY_MAIN, "--address", "127.0.0.1:0", "--http-address", "127.0.0.1:0", "--data-dir", dataDir];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BALLAST_LOG_LEVEL: "info" }, // the "history UI at" line is logged at info
  });
  return new Promise((resolve, reject) => {
    let stderr = "";
    const onExit = (code: number | null) => reject(new Error(`history exited with ${code} before listening:\n${stderr}`));
    const onData = (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = stderr.split("\n").find((l) => l.includes("history UI at"));
      if (!line) return;
      const { grpcAddress, httpUrl } = JSON.parse(line) as { grpcAddress: string; httpUrl: string };
      child.off("exit", onExit);
      child.stderr!.off("data", onData);
      child.stderr!.resume(); // keep draining its logs
      resolve({ child, grpcAddress, httpUrl, client: createClient(HistoryServiceClient, grpcAddress) });
    };
    child.once("exit", onExit);
    child.stderr!.on("data", onData);
  });
}

/** SIGKILL, resolved once the process is gone. */
export function killHard(running: RunningHistoryProcess): Promise<void> {
  running.client.close();
  if (running.child.exitCode !== null || running.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    running.child.once("exit", () => resolve());
    running.child.kill("SIGKILL");
  });
}
