import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import type { JobInfo } from "@ballast/gen/common";
import { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { StagingClient } from "@ballast/clients/staging";
import { parseConfPairs } from "@ballast/common/config";
import { describeError, InvalidArgumentError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import type { JobView } from "@ballast/common/domain/views";
import type { Plan } from "@ballast/common/plan";
import { initTelemetry, withSpan } from "@ballast/common/telemetry";
import { jobFromWire } from "@ballast/common/wire/jobs";
import { planToWire } from "@ballast/common/wire/plan";
import { bundleJob, JobFileError, userFrames } from "./bundle.js";
import { leaderMayHaveMoved, SchedulerConnection } from "@ballast/clients/scheduler";
import { ProgressView } from "./progress.js";
import { summarize, type JobOutcome } from "./outcome.js";

export interface SubmitOptions {
  scheduler: string;
  staging: string;
  jobFile: string;
  files: string[];
  conf: string[];
  args: string[];
  json: boolean;
  historyUrl?: string;
  /** Where progress lines go (stderr by default). */
  progress?: NodeJS.WriteStream;
}

/** Bundles, uploads, plans, submits and watches a job to its end. */
export async function submitJob(options: SubmitOptions): Promise<JobOutcome> {
  await initTelemetry("ballast-cli");
  const conf = parseConfPairs(options.conf);
  const files = options.files.map(checkLocalFile);
  const bundle = await bundleJob(options.jobFile);
  const staging = new StagingClient(options.staging);
  const scheduler = new SchedulerConnection(options.scheduler.split(",").filter(Boolean));
  try {
    return await withSpan("ballast.submit", { "ballast.job_file": basename(options.jobFile) }, async () => {
      const uploaded = new Map<string, number>();
      for (const file of files) {
        const info = await staging.uploadFile(file, basename(file));
        uploaded.set(`staging://${info.name}`, info.size);
      }
      await staging.uploadFile(bundle.path, `bundles/${bundle.sha256}.mjs`);
      const plan = await buildPlan(bundle.definition, options.args, (uri) => inputSize(uri, uploaded, staging));
      const started = Date.now();
      // One id for every retry: a submission the scheduler logged before failing over is not run twice.
      const submissionId = randomUUID();
      const request = { plan: planToWire(plan), bundleDigest: bundle.sha256, conf, submissionId };
      const { jobId } = await scheduler.withLeader((client) => call(client.submitJob.bind(client), request));
      const final = await watch(scheduler, jobId, new ProgressView(options.progress ?? process.stderr, jobId));
      return summarize(final, Date.now() - started);
    });
  } finally {
    staging.close();
    scheduler.close();
  }
}

function checkLocalFile(path: string): string {
  const full = resolve(path);
  if (!existsSync(full) || !statSync(full).isFile()) throw new InvalidArgumentError(`--file not found: ${path}`);
  return full;
}

/** Input sizes are fixed at submit so every executor computes the same splits; sizes are gathered first because buildPlan is synchronous. */
async function buildPlan(definition: Awaited<ReturnType<typeof bundleJob>>["definition"], args: string[], size: (uri: string) => Promise<number>): Promise<Plan> {
  const sizes = new Map<string, number>();
  for (;;) {
    let missing: string | undefined;
    let plan: Plan | undefined;
    try {
      plan = definition.buildPlan({
        args,
        inputSize: (uri) => {
          const known = sizes.get(uri);
          if (known !== undefined) return known;
          missing = uri;
          throw new MissingSize();
        },
      }).plan;
    } catch (err) {
      if (!(err instanceof MissingSize)) throw planError(err);
    }
    if (plan) return plan;
    sizes.set(missing!, await size(missing!));
  }
}

class MissingSize extends Error {}

function planError(err: unknown): Error {
  const e = err as Error;
  if (e?.name === "JobDefinitionError") return new JobFileError(e.message);
  return new JobFileError(`the job threw while building its plan: ${e?.message ?? String(err)}\n${userFrames(e?.stack)}`);
}

async function inputSize(uri: string, uploaded: Map<string, number>, staging: StagingClient): Promise<number> {
  if (uri.startsWith("file://")) {
    const path = fileURLToPath(uri);
    if (!existsSync(path) || !statSync(path).isFile()) throw new InvalidArgumentError(`input not found: ${uri}`);
    return statSync(path).size;
  }
  if (uri.startsWith("staging://")) {
    const known = uploaded.get(uri);
    if (known !== undefined) return known;
    try {
      return (await staging.stat({ name: uri.slice("staging://".length) })).size;
    } catch {
      throw new InvalidArgumentError(`input not found: ${uri} (upload it with --file)`);
    }
  }
  throw new InvalidArgumentError(`unsupported input URI: ${uri} (use file:///absolute/path or staging://name)`);
}

/** Watches the job to its end, following the leader across scheduler failovers. */
async function watch(scheduler: SchedulerConnection, jobId: string, view: ProgressView): Promise<JobView> {
  for (;;) {
    const client = await scheduler.leader();
    const outcome = await watchOnce(client, jobId, view);
    if (outcome.job && outcome.job.status !== "running") {
      view.finish();
      return outcome.job;
    }
    if (outcome.error && !leaderMayHaveMoved(outcome.error)) throw outcome.error;
    // The stream ended or broke while the job runs: the scheduler went away. Find the new leader.
    view.note(`lost the scheduler (${outcome.error ? describeError(outcome.error) : "stream ended"}); reconnecting...`);
    scheduler.reset();
  }
}

function watchOnce(client: InstanceType<typeof SchedulerServiceClient>, jobId: string, view: ProgressView): Promise<{ job?: JobView; error?: unknown }> {
  return new Promise((resolvePromise) => {
    let last: JobView | undefined;
    const stream = client.watchJob({ jobId });
    stream.on("data", (res: { job?: JobInfo }) => {
      if (!res.job) return;
      try {
        last = jobFromWire(res.job);
      } catch (error) {
        // A job this CLI cannot read (an unknown status from a newer scheduler): stop watching, say why.
        stream.cancel();
        resolvePromise({ job: last, error });
        return;
      }
      view.update(last);
    });
    stream.on("error", (error) => resolvePromise({ job: last, error }));
    stream.on("end", () => resolvePromise({ job: last }));
  });
}
