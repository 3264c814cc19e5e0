import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shutdownTelemetry } from "@ballast/common/telemetry";
import { startCluster, stopCluster } from "../cluster.js";
import { outcomeJson, outcomeText } from "../outcome.js";
import { submitJob } from "../submit.js";
import { submitAddresses, type ClusterAddresses, type MasterFlags } from "./addresses.js";

export interface SubmitFlags {
  file: string[];
  conf: string[];
  json: boolean;
}

/** `ballast submit`: the job on an existing cluster; the exit code says how it ended. */
export function submit(jobFile: string, jobArgs: string[], opts: SubmitFlags & MasterFlags & { staging?: string }): Promise<number> {
  return runSubmit(jobFile, jobArgs, opts, submitAddresses(opts));
}

/** `ballast run`: the job on an embedded local cluster started and stopped for it. */
export async function run(jobFile: string, jobArgs: string[], opts: SubmitFlags & { nodes: string }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-run-"));
  try {
    const cluster = await startCluster({ dir, nodes: Number(opts.nodes), ports: "auto" });
    return await runSubmit(jobFile, jobArgs, opts, { scheduler: cluster.scheduler, staging: cluster.staging });
  } finally {
    await stopCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runSubmit(jobFile: string, jobArgs: string[], opts: SubmitFlags, addresses: ClusterAddresses): Promise<number> {
  try {
    const outcome = await submitJob({ ...addresses, jobFile, args: jobArgs, files: opts.file, conf: opts.conf, json: opts.json });
    if (opts.json) process.stdout.write(`${outcomeJson(outcome)}\n`);
    else {
      process.stdout.write(`${outcomeText(outcome)}\n`);
      if (addresses.historyUrl) process.stdout.write(`history: ${addresses.historyUrl}/#/job/${outcome.jobId}\n`);
    }
    return outcome.ok ? 0 : 1;
  } finally {
    // The job's spans leave before the process does.
    await shutdownTelemetry();
  }
}
