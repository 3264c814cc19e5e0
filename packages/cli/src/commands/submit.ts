import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shutdownTelemetry } from "@ballast/common/telemetry";
import { traceLink, traceUrlTemplate } from "@ballast/common/traceLink";
import { startCluster, stopCluster } from "../cluster.js";
import { useCliCredentials } from "../credentials.js";
import { INTERRUPTED_EXIT_CODE, SubmitInterrupt } from "../interrupt.js";
import { outcomeJson, outcomeText, type JobOutcome } from "../outcome.js";
import type { ApplicationOutcome } from "../application.js";
import { applicationJson, applicationText } from "../applicationOutput.js";
import { startProgram, submitProgram, type Started } from "../submit.js";
import { SchedulerConnection } from "@ballast/clients/scheduler";
import { StagingClient } from "@ballast/clients/staging";
import { bundlePathOf, loadBundle, type Bundle } from "../bundle.js";
import { requireApplicationRecord } from "../resume.js";
import { followApplication } from "../follow.js";
import { ExitError } from "../exit.js";
import type { ApplicationView } from "@ballast/common/domain/views";
import { submitAddresses, type ClusterAddresses, type MasterFlags } from "./addresses.js";
import { jobLink } from "../historyLink.js";

export interface SubmitFlags {
  file: string[];
  conf: string[];
  json: boolean;
  /** Return once the scheduler has the job instead of watching it. */
  detach?: boolean;
  /** Template of the printed trace link ({traceId}). */
  traceUrl?: string;
  /** Resume this application: its finished actions are answered from their recorded results. */
  appId?: string;
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
    useCliCredentials(dir);
    return await runSubmit(jobFile, jobArgs, opts, { scheduler: cluster.scheduler, staging: cluster.staging });
  } finally {
    await stopCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface AttachFlags extends Omit<SubmitFlags, "file" | "conf" | "appId" | "detach">, MasterFlags {
  staging?: string;
  /** Run as a detached application's driver, for the executor supervising it (it exits when its stdin closes). */
  supervised?: boolean;
}

/**
 * `ballast attach APP_ID`: resumes an application whose driver was lost,
 * with the program, arguments and `--conf` it was registered with (the
 * bundle is fetched from staging). Finished actions are not run again. A
 * detached application's driver runs in the cluster: attach follows it to
 * its end, then prints its result as submit would have (the program is
 * replayed here only once it succeeded, every action answered from its record).
 */
export async function attach(applicationId: string, opts: AttachFlags): Promise<number> {
  const addresses = submitAddresses(opts);
  if (opts.supervised) exitWithSupervisor();
  const application = await followIfDetached(applicationId, addresses, opts.supervised === true);
  if (application && application.status !== "succeeded") reportDetachedEnd(application);
  const program = await applicationProgram(applicationId, addresses);
  return runSubmit(program.bundle.path, program.args, { ...opts, file: [], conf: program.conf, appId: applicationId }, addresses, program.bundle);
}

/** The detached application's final record once it ended; undefined when this command runs the driver itself. */
async function followIfDetached(applicationId: string, addresses: ClusterAddresses, supervised: boolean): Promise<ApplicationView | undefined> {
  if (supervised) return undefined;
  const scheduler = new SchedulerConnection(addresses.scheduler.split(",").filter(Boolean));
  try {
    const application = await requireApplicationRecord(scheduler, applicationId);
    return application.detached ? await followApplication(scheduler, applicationId, process.stderr) : undefined;
  } finally {
    scheduler.close();
  }
}

/** A detached application that did not succeed: its recorded end, as attach says it of any ended application. */
function reportDetachedEnd(application: ApplicationView): never {
  throw new ExitError(`application ${application.applicationId} ${application.status}: ${application.error?.message ?? "no reason given"}`, 1);
}

/** The supervising executor holds our stdin: when it goes (however it dies), so does this driver. */
function exitWithSupervisor(): void {
  process.stdin.on("end", () => process.exit(1));
  process.stdin.on("close", () => process.exit(1));
  process.stdin.resume();
}

async function applicationProgram(applicationId: string, addresses: ClusterAddresses): Promise<{ bundle: Bundle; args: string[]; conf: string[] }> {
  const scheduler = new SchedulerConnection(addresses.scheduler.split(",").filter(Boolean));
  const staging = new StagingClient(addresses.staging);
  try {
    const application = await requireApplicationRecord(scheduler, applicationId);
    const path = bundlePathOf(application.bundleDigest);
    await staging.downloadToFile({ name: `bundles/${application.bundleDigest}.mjs` }, path);
    const conf = Object.entries(application.conf).map(([key, value]) => `${key}=${value}`);
    return { bundle: await loadBundle(path, application.bundleDigest, `application ${applicationId}`), args: application.args, conf };
  } finally {
    scheduler.close();
    staging.close();
  }
}

async function runSubmit(jobFile: string, jobArgs: string[], opts: SubmitFlags, addresses: ClusterAddresses, bundle?: Bundle): Promise<number> {
  const options = { ...addresses, jobFile, args: jobArgs, files: opts.file, conf: opts.conf, json: opts.json, applicationId: opts.appId, bundle };
  try {
    if (opts.detach) return reportDetached(await startProgram(options), opts.json, addresses.historyUrl);
    const interrupt = new SubmitInterrupt();
    try {
      const submitted = await submitProgram({ ...options, hooks: interrupt });
      const { outcome } = submitted;
      const code =
        submitted.kind === "job"
          ? reportOutcome(submitted.outcome, opts.json, addresses.historyUrl)
          : reportApplication(submitted.outcome, opts.json);
      printTraceLink(outcome.traceId, opts);
      return interrupt.interrupted ? INTERRUPTED_EXIT_CODE : code;
    } finally {
      interrupt.dispose();
    }
  } finally {
    // The job's spans leave before the process does.
    await shutdownTelemetry();
  }
}

/** Prints how a watched job ended (`submit` and `watch`); the exit code is 0 only if it succeeded. */
export function reportOutcome(outcome: JobOutcome, json: boolean, historyUrl?: string): number {
  if (json) process.stdout.write(`${outcomeJson(outcome)}\n`);
  else {
    process.stdout.write(`${outcomeText(outcome)}\n`);
    if (historyUrl) process.stdout.write(`history: ${jobLink(historyUrl, outcome.jobId)}\n`);
  }
  return outcome.ok ? 0 : 1;
}

/** Prints how an application's driver program ended; the exit code is 0 only if it succeeded. */
function reportApplication(outcome: ApplicationOutcome, json: boolean): number {
  process.stdout.write(`${json ? applicationJson(outcome) : applicationText(outcome)}\n`);
  return outcome.ok ? 0 : 1;
}

/**
 * The job's trace in a tracing UI, when there is one to see: traces are exported
 * (OTEL_EXPORTER_OTLP_ENDPOINT) or a link template was given (--trace-url, BALLAST_TRACE_URL).
 */
function printTraceLink(traceId: string | undefined, opts: SubmitFlags): void {
  const wanted = opts.traceUrl || process.env.BALLAST_TRACE_URL || process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!traceId || !wanted || opts.json) return;
  process.stdout.write(`trace: ${traceLink(traceUrlTemplate(opts.traceUrl), traceId)}\n`);
}

function reportDetached(started: Started, json: boolean, historyUrl?: string): number {
  if (started.kind === "application") return reportDetachedApplication(started.applicationId, json);
  const { jobId } = started;
  if (json) process.stdout.write(`${JSON.stringify({ jobId, status: "running" })}\n`);
  else {
    process.stdout.write(`submitted ${jobId}; it runs on without this command (ballast watch ${jobId}, ballast status ${jobId}, ballast cancel ${jobId})\n`);
    if (historyUrl) process.stdout.write(`history: ${jobLink(historyUrl, jobId)}\n`);
  }
  return 0;
}

function reportDetachedApplication(applicationId: string, json: boolean): number {
  if (json) process.stdout.write(`${JSON.stringify({ applicationId, status: "running" })}\n`);
  else process.stdout.write(`submitted ${applicationId}; its driver runs in the cluster without this command (ballast attach ${applicationId} follows it, ballast cancel ${applicationId})\n`);
  return 0;
}
