/**
 * What every `ballast submit` sets up before planning: the bundled program and
 * uploaded files, the connections, the submission's span, and how to send one
 * job. Jobs and applications both run inside one.
 */
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { SchedulerConnection } from "@ballast/clients/scheduler";
import { StagingClient } from "@ballast/clients/staging";
import { parseJobConfPairs } from "@ballast/common/config";
import { InvalidArgumentError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import type { Plan } from "@ballast/common/plan";
import { initTelemetry, withSpan } from "@ballast/common/telemetry";
import { planToWire } from "@ballast/common/wire/plan";
import { jobStatus } from "@ballast/common/wire/jobs";
import type { JobStatus } from "@ballast/common/domain/states";
import { bundleJob, type Bundle } from "./bundle.js";

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
  /** Resume this application (`submit --app-id`, `attach`) instead of starting a new one. */
  applicationId?: string;
  /** The program already bundled (attach: the application's own bundle); otherwise jobFile is bundled. */
  bundle?: Bundle;
}

export interface SubmitHooks {
  submitting?(): void;
  submitted?(jobId: string, scheduler: SchedulerConnection): void;
}

/** What one `ballast submit` has set up: the uploaded bundle and files, and its connections. */
export interface Session {
  bundle: Bundle;
  scheduler: SchedulerConnection;
  traceId: string;
  /** The size of an input, fixed at submit so every executor computes the same splits. */
  inputSize(uri: string): Promise<number>;
  /** Sends one job (an action of `applicationId`, when given) and returns its id once the scheduler has it. */
  submit(plan: Plan, applicationId?: string): Promise<string>;
  /** unpersist() in an application: the cluster forgets the dataset's cached partitions. */
  unpersist(applicationId: string, cacheKey: string): Promise<void>;
  /** A new application: the scheduler records its program, arguments and this submission's conf (what `attach` runs again). */
  /** detached: the scheduler runs the driver (`submit --detach`). */
  registerApplication(applicationId: string, name: string, args: string[], detached?: boolean): Promise<void>;
  /** The driver program ended: the scheduler's record of it is kept for ballast.scheduler.applicationRetention more. */
  finishApplication(applicationId: string, status: Exclude<JobStatus, "running">, errorMessage: string): Promise<void>;
}

/** Bundles and uploads, then runs `body` inside the submission's span (the trace every job of it continues). */
export async function withSession<T>(options: SubmitOptions, body: (session: Session) => Promise<T>): Promise<T> {
  await initTelemetry("ballast-cli");
  const conf = parseJobConfPairs(options.conf);
  const files = options.files.map(checkLocalFile);
  const bundle = options.bundle ?? (await bundleJob(options.jobFile));
  const staging = new StagingClient(options.staging);
  const scheduler = new SchedulerConnection(options.scheduler.split(",").filter(Boolean));
  try {
    return await withSpan("ballast.submit", { "ballast.job_file": basename(options.jobFile) }, async (span) => {
      // staging:// inputs as this submission found them: their sizes fix the splits, their digests the bytes read.
      const uploaded = new Map<string, StagedInput>();
      for (const file of files) {
        const info = await staging.uploadFile(file, basename(file));
        uploaded.set(`staging://${info.name}`, info);
      }
      await staging.uploadFile(bundle.path, `bundles/${bundle.sha256}.mjs`);
      const submit = async (plan: Plan, applicationId = ""): Promise<string> => {
        // One id for every retry: a submission the scheduler logged before failing over is not run twice.
        const submissionId = randomUUID();
        const request = { plan: planToWire(pinInputs(plan, uploaded)), bundleDigest: bundle.sha256, conf, submissionId, applicationId };
        options.hooks?.submitting?.();
        const { jobId } = await scheduler.withLeader((client) => call(client.submitJob.bind(client), request));
        options.hooks?.submitted?.(jobId, scheduler);
        return jobId;
      };
      const unpersist = async (applicationId: string, cacheKey: string): Promise<void> => {
        await scheduler.withLeader((client) => call(client.unpersistDataset.bind(client), { applicationId, cacheKey }));
      };
      const registerApplication = async (applicationId: string, name: string, args: string[], detached = false): Promise<void> => {
        await scheduler.withLeader((client) => call(client.registerApplication.bind(client), { applicationId, name, bundleDigest: bundle.sha256, args, conf, detached }));
      };
      const finishApplication = async (applicationId: string, status: Exclude<JobStatus, "running">, errorMessage: string): Promise<void> => {
        await scheduler.withLeader((client) => call(client.finishApplication.bind(client), { applicationId, status: jobStatus.toWire(status), errorMessage }));
      };
      const traceId = span.spanContext().traceId;
      const applications = { registerApplication, finishApplication };
      return await body({ bundle, scheduler, traceId, submit, unpersist, ...applications, inputSize: (uri) => inputSize(uri, uploaded, staging) });
    });
  } finally {
    staging.close();
    scheduler.close();
  }
}

/** Thrown from inputSize when a size is not known yet: the caller fetches it and evaluates the program again. */
export class MissingSize extends Error {
  constructor(readonly uri: string) {
    super(`size of ${uri} not known yet`);
  }
}

function checkLocalFile(path: string): string {
  const full = resolve(path);
  if (!existsSync(full) || !statSync(full).isFile()) throw new InvalidArgumentError(`--file not found: ${path}`);
  return full;
}

interface StagedInput {
  size: number;
  sha256: string;
}

/** The plan with each staging:// input pinned to the digest it had when this submission looked it up. */
function pinInputs(plan: Plan, staged: Map<string, StagedInput>): Plan {
  return { ...plan, inputs: plan.inputs.map((input) => (staged.has(input.uri) ? { ...input, sha256: staged.get(input.uri)!.sha256 } : input)) };
}

async function inputSize(uri: string, uploaded: Map<string, StagedInput>, staging: StagingClient): Promise<number> {
  if (uri.startsWith("file://")) {
    const path = fileURLToPath(uri);
    if (!existsSync(path) || !statSync(path).isFile()) throw new InvalidArgumentError(`input not found: ${uri}`);
    return statSync(path).size;
  }
  if (uri.startsWith("staging://")) {
    const known = uploaded.get(uri);
    if (known !== undefined) return known.size;
    try {
      const info = await staging.stat({ name: uri.slice("staging://".length) });
      uploaded.set(uri, info);
      return info.size;
    } catch {
      throw new InvalidArgumentError(`input not found: ${uri} (upload it with --file)`);
    }
  }
  throw new InvalidArgumentError(`unsupported input URI: ${uri} (use file:///absolute/path or staging://name)`);
}
