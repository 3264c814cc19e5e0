import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { StagingClient } from "@ballast/clients/staging";
import { parseJobConfPairs } from "@ballast/common/config";
import { InvalidArgumentError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import type { Plan } from "@ballast/common/plan";
import { initTelemetry, withSpan } from "@ballast/common/telemetry";
import { planToWire } from "@ballast/common/wire/plan";
import { bundleJob, JobFileError, userFrames } from "./bundle.js";
import { SchedulerConnection } from "@ballast/clients/scheduler";
import { ProgressView } from "./progress.js";
import { summarize, type JobOutcome } from "./outcome.js";
import { watchJob } from "./watch.js";

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
  /** Told when the submission is sent and when the scheduler has the job (Ctrl-C handling needs both). */
  hooks?: SubmitHooks;
}

export interface SubmitHooks {
  submitting?(): void;
  submitted?(jobId: string, scheduler: SchedulerConnection): void;
}

/** Bundles, uploads, plans, submits and watches a job to its end. */
export function submitJob(options: SubmitOptions): Promise<JobOutcome> {
  return submission(options, async (jobId, scheduler, submittedAt, traceId) => {
    const final = await watchJob(scheduler, jobId, new ProgressView(options.progress ?? process.stderr, `submitted ${jobId}`));
    return { ...summarize(final, Date.now() - submittedAt), traceId };
  });
}

/** Like submitJob, but returns the job id as soon as the scheduler has the job (`submit --detach`). */
export function startJob(options: SubmitOptions): Promise<string> {
  return submission(options, async (jobId) => jobId);
}

type AfterSubmit<T> = (jobId: string, scheduler: SchedulerConnection, submittedAt: number, traceId: string) => Promise<T>;

async function submission<T>(options: SubmitOptions, then: AfterSubmit<T>): Promise<T> {
  await initTelemetry("ballast-cli");
  const conf = parseJobConfPairs(options.conf);
  const files = options.files.map(checkLocalFile);
  const bundle = await bundleJob(options.jobFile);
  const staging = new StagingClient(options.staging);
  const scheduler = new SchedulerConnection(options.scheduler.split(",").filter(Boolean));
  try {
    return await withSpan("ballast.submit", { "ballast.job_file": basename(options.jobFile) }, async (span) => {
      const uploaded = new Map<string, number>();
      for (const file of files) {
        const info = await staging.uploadFile(file, basename(file));
        uploaded.set(`staging://${info.name}`, info.size);
      }
      await staging.uploadFile(bundle.path, `bundles/${bundle.sha256}.mjs`);
      const plan = await buildPlan(bundle.definition, options.args, (uri) => inputSize(uri, uploaded, staging));
      const submittedAt = Date.now();
      // One id for every retry: a submission the scheduler logged before failing over is not run twice.
      const submissionId = randomUUID();
      const request = { plan: planToWire(plan), bundleDigest: bundle.sha256, conf, submissionId };
      options.hooks?.submitting?.();
      const { jobId } = await scheduler.withLeader((client) => call(client.submitJob.bind(client), request));
      options.hooks?.submitted?.(jobId, scheduler);
      // The job's trace is this span's: the scheduler and executors continue it.
      return await then(jobId, scheduler, submittedAt, span.spanContext().traceId);
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
