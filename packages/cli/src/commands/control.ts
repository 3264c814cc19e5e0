import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { SchedulerConnection, onLeader } from "@ballast/clients/scheduler";
import { StagingClient, type BlobInfo } from "@ballast/clients/staging";
import type { SchedulerServiceClient } from "@ballast/gen/scheduler";
import type { JobView } from "@ballast/common/domain/views";
import { isServiceError, NotFoundError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import { jobFromWire } from "@ballast/common/wire/jobs";
import { ExitError } from "../exit.js";
import { leaveWatchOnCtrlC } from "../interrupt.js";
import { formatBytes, summarize } from "../outcome.js";
import { ProgressView, stageLine } from "../progress.js";
import { watchJob } from "../watch.js";
import { schedulerAddresses, submitAddresses, type MasterFlags } from "./addresses.js";
import { jobLink } from "../historyLink.js";
import { reportOutcome } from "./submit.js";

type Scheduler = InstanceType<typeof SchedulerServiceClient>;
const print = (line: string) => void process.stdout.write(`${line}\n`);
const isNotFound = (err: unknown) => err instanceof NotFoundError || (isServiceError(err) && err.code === 5);

/** One call about a job on the leading scheduler; an unknown job id is the user's mistake (exit 2). */
async function onJob<T>(jobId: string, opts: MasterFlags, fn: (client: Scheduler) => Promise<T>): Promise<T> {
  try {
    return await onLeader(schedulerAddresses(opts), fn, 15_000);
  } catch (err) {
    if (isNotFound(err)) throw new ExitError(notHeldMessage(jobId, tryHistoryUrl(opts)), 2);
    throw err;
  }
}

/** Ended jobs leave the scheduler after ballast.scheduler.jobRetention: history is where they are then. */
function notHeldMessage(jobId: string, historyUrl: string | undefined): string {
  const where = historyUrl ? `history keeps ended jobs: ${jobLink(historyUrl, jobId)}` : "history keeps ended jobs";
  return `the scheduler has no job ${jobId} (ballast jobs lists them; an ended job leaves the scheduler after ballast.scheduler.jobRetention, and ${where})`;
}

/** `ballast cancel JOB`: 0 once the job is cancelled (or already was), 1 if it had already ended otherwise. */
export async function cancel(jobId: string, opts: MasterFlags): Promise<number> {
  const { job } = await onJob(jobId, opts, (c) => call(c.cancelJob.bind(c), { jobId }, 10_000));
  const status = jobFromWire(job!).status;
  if (status === "cancelled" || status === "running") {
    print(`${jobId} cancelled`);
    return 0;
  }
  process.stderr.write(`ballast: ${jobId} had already ${status}; nothing to cancel\n`);
  return 1;
}

/** `ballast status JOB`: state, each stage's progress, stats; exit 0 whatever the job's state. */
export async function status(jobId: string, opts: MasterFlags & { json: boolean }): Promise<number> {
  const { job: wire } = await onJob(jobId, opts, (c) => call(c.getJob.bind(c), { jobId }, 10_000));
  const job = jobFromWire(wire!);
  if (opts.json) print(JSON.stringify(job));
  else for (const line of statusLines(job)) print(line);
  return 0;
}

export function statusLines(job: JobView): string[] {
  const end = job.status === "running" || !job.finishedAtMs ? Date.now() : job.finishedAtMs;
  const s = job.stats;
  return [
    `${job.jobId} (${job.name}) ${job.status} after ${((end - job.submittedAtMs) / 1000).toFixed(1)}s`,
    ...job.stages.map(stageLine),
    `stats: ${s.tasksLaunched} tasks, ${s.stageAttempts} stage attempts, ${s.taskAttemptsFailed} failed task attempts, ${formatBytes(s.shuffleBytesWritten)} shuffled`,
    ...(job.error ? [`error: ${job.error.message}`] : []),
  ];
}

/** `ballast watch JOB`: the live progress `submit` shows, then the outcome; Ctrl-C leaves the job running. */
export async function watch(jobId: string, opts: MasterFlags & { json: boolean }): Promise<number> {
  const historyUrl = tryHistoryUrl(opts);
  const scheduler = new SchedulerConnection(schedulerAddresses(opts));
  const disposeCtrlC = leaveWatchOnCtrlC(jobId);
  try {
    await onJob(jobId, opts, (c) => call(c.getJob.bind(c), { jobId }, 10_000)); // a clear error for an unknown id
    const final = await watchJob(scheduler, jobId, new ProgressView(process.stderr, `watching ${jobId}`));
    return reportOutcome(summarize(final, Date.now() - final.submittedAtMs), opts.json, historyUrl);
  } finally {
    disposeCtrlC();
    scheduler.close();
  }
}

function tryHistoryUrl(opts: MasterFlags): string | undefined {
  if (opts.master) return undefined;
  try {
    return submitAddresses(opts).historyUrl;
  } catch {
    return undefined;
  }
}

/**
 * `ballast fetch staging://NAME DEST`: one blob to DEST (or into DEST if it is a directory), or every
 * blob under NAME/ (a saveAsTextFile output) into the directory DEST, keeping their relative names.
 */
export async function fetch(uri: string, dest: string, opts: MasterFlags & { staging?: string }): Promise<number> {
  if (!uri.startsWith("staging://") || uri === "staging://") throw new ExitError(`fetch takes a staging://NAME URI, got "${uri}"`, 2);
  const name = uri.slice("staging://".length).replace(/\/+$/, "");
  const staging = new StagingClient(submitAddresses(opts).staging);
  try {
    const single = await staging.stat({ name }).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
    const targets: Array<[BlobInfo, string]> = single
      ? [[single, existsSync(dest) && statSync(dest).isDirectory() ? join(dest, basename(name)) : dest]]
      : (await staging.list(`${name}/`)).map((blob) => [blob, join(dest, blob.name.slice(name.length + 1))]);
    if (targets.length === 0) throw new ExitError(`nothing in staging at ${uri}`, 2);
    for (const [blob, path] of targets) {
      await staging.downloadToFile({ name: blob.name }, path);
      print(`staging://${blob.name} -> ${path} (${formatBytes(blob.size)})`);
    }
    return 0;
  } finally {
    staging.close();
  }
}
