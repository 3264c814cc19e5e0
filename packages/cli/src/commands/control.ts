import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { SchedulerConnection, onLeader } from "@ballast/clients/scheduler";
import { StagingClient, type BlobInfo } from "@ballast/clients/staging";
import type { SchedulerServiceClient } from "@ballast/gen/scheduler";
import type { ApplicationView, JobView } from "@ballast/common/domain/views";
import { isNotFound } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import { SUCCESS_MARKER, TEMPORARY_DIR } from "@ballast/common/jobOutput";
import { applicationFromWire } from "@ballast/common/wire/applications";
import { jobFromWire, jobStatus } from "@ballast/common/wire/jobs";
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

/**
 * `ballast cancel ID`, a job's or an application's id: 0 once it is cancelled (or already was), 1
 * if it had already ended otherwise. An application's running job is cancelled with it, and it
 * takes no new ones.
 */
export async function cancel(id: string, opts: MasterFlags): Promise<number> {
  const application = await onLeader(schedulerAddresses(opts), (c) => cancelApplication(c, id), 15_000);
  const { status } = application ?? jobFromWire((await onJob(id, opts, (c) => call(c.cancelJob.bind(c), { jobId: id }, 10_000))).job!);
  if (status === "cancelled" || status === "running") {
    print(`${id} cancelled`);
    return 0;
  }
  process.stderr.write(`ballast: ${id} had already ${status}; nothing to cancel\n`);
  return 1;
}

/** Cancels the application `id`, if there is one, and returns its record. */
async function cancelApplication(client: Scheduler, id: string): Promise<ApplicationView | undefined> {
  try {
    const request = { applicationId: id, status: jobStatus.toWire("cancelled"), errorMessage: "cancelled by user" };
    return applicationFromWire((await call(client.finishApplication.bind(client), request, 10_000)).application!);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
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
 * A directory that is a job output (parts, or attempts' temporaries) is fetched only with its
 * _SUCCESS, and without _temporary (a late zombie attempt's name): anything else is not an output to trust.
 */
function committedOutput<T>(uri: string, entries: Array<[BlobInfo, T]>, relative: (blob: BlobInfo) => string): Array<[BlobInfo, T]> {
  const names = entries.map(([blob]) => relative(blob));
  const temporary = (n: string) => n.startsWith(`${TEMPORARY_DIR}/`);
  if (!names.some((n) => temporary(n) || /^part-\d+$/.test(n))) return entries;
  if (!names.includes(SUCCESS_MARKER)) {
    throw new ExitError(`${uri} is an incomplete job output: it has no ${SUCCESS_MARKER} (its job failed, was cancelled or has not committed yet); nothing fetched`, 1);
  }
  return entries.filter(([blob]) => !temporary(relative(blob)));
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
    const files = single ? targets : committedOutput(uri, targets, (blob) => blob.name.slice(name.length + 1));
    for (const [blob, path] of files) {
      await staging.downloadToFile({ name: blob.name }, path);
      print(`staging://${blob.name} -> ${path} (${formatBytes(blob.size)})`);
    }
    return 0;
  } finally {
    staging.close();
  }
}
