/**
 * Runs an application's driver program in this process: every action the
 * program awaits becomes one job (planned from the same bundle, with the
 * action's place in the program so executors can rebuild it), submitted and
 * watched to its end; its result is what the awaited action returns.
 */
import { randomUUID } from "node:crypto";
import type { AppDefinition, BuiltJob, RawActionResult } from "ballast";
import type { JobStatus } from "@ballast/common/domain/states";
import { JobFileError, userFrames } from "./bundle.js";
import { summarize, type JobOutcome } from "./outcome.js";
import { ProgressView } from "./progress.js";
import { ExitError } from "./exit.js";
import { applicationRecord, rawResultOf, requireApplicationRecord, recordedApplication, type RecordedApplication } from "./resume.js";
import { MissingSize, type Session, type SubmitOptions } from "./session.js";
import { watchJob } from "./watch.js";

export interface ApplicationOutcome {
  applicationId: string;
  status: JobStatus;
  ok: boolean;
  /** What the driver program returned. */
  result?: unknown;
  /** One per action, in the program's order. */
  jobs: JobOutcome[];
  error?: { message: string; stack: string };
  clientWallTimeMs: number;
  traceId?: string;
}

/** A job of the application that did not succeed: the action awaiting it rejects with this. */
class ActionJobFailed extends Error {
  constructor(readonly outcome: JobOutcome) {
    super(`job ${outcome.jobId} ${outcome.status}: ${outcome.error?.message ?? "no reason given"}`);
    this.name = "ActionJobFailed";
  }
}

/**
 * Runs the application's program. With options.applicationId (resuming it)
 * the actions the scheduler recorded as finished return their recorded
 * results without a job, a still running one is rejoined, and the program
 * goes on from there.
 */
export async function runApplication(session: Session, options: SubmitOptions): Promise<ApplicationOutcome> {
  const applicationId = options.applicationId ?? `app-${randomUUID()}`;
  const startedAt = Date.now();
  const definition = session.bundle.definition as AppDefinition;
  const previous = options.applicationId ? await resumable(session.scheduler, applicationId) : undefined;
  if (!previous) await session.registerApplication(applicationId, definition.name, options.args);
  const jobs: JobOutcome[] = [...(previous?.jobs ?? [])];
  const recorded: RawActionResult[] = [...(previous?.results ?? [])];
  const sizes = new Map<string, number>();
  const progress = options.progress ?? process.stderr;
  const answered = previous ? `, ${previous.results.length} finished action(s) answered from their recorded results` : "";
  progress.write(`application ${applicationId}${answered} (if this process dies: ballast attach ${applicationId})\n`);
  // unpersist() is synchronous in the program: its requests are sent at once and awaited before the next job.
  const unpersisting: Array<Promise<void>> = [];
  const unpersist = (cacheKey: string): void => {
    const sent = session.unpersist(applicationId, cacheKey);
    sent.catch(() => undefined); // rejected before it is awaited is not unhandled: the next job's await fails on it
    unpersisting.push(sent);
  };
  const runJob = async (built: BuiltJob, actionIndex: number): Promise<RawActionResult> => {
    await Promise.all(unpersisting.splice(0));
    const submittedAt = Date.now();
    const rejoined = previous?.running?.actionIndex === actionIndex ? previous.running.jobId : undefined;
    const jobId = rejoined ?? (await session.submit(built.plan, applicationId));
    const view = new ProgressView(progress, `action #${actionIndex + 1} (${built.plan.action}): ${rejoined ? "rejoined" : "submitted"} ${jobId}`);
    const outcome = summarize(await watchJob(session.scheduler, jobId, view), Date.now() - submittedAt);
    jobs.push(outcome);
    if (!outcome.ok) throw new ActionJobFailed(outcome);
    const raw = rawResultOf(outcome);
    recorded.push(raw);
    return raw;
  };
  const finish = async (fields: Partial<ApplicationOutcome>): Promise<ApplicationOutcome> => {
    const outcome: ApplicationOutcome = { applicationId, status: "succeeded", ok: true, jobs, clientWallTimeMs: Date.now() - startedAt, traceId: session.traceId, ...fields };
    if (previous?.application.status !== "succeeded") await reportEnd(session, outcome, progress);
    return outcome;
  };
  // textFile needs its input's size synchronously: when one is missing, fetch it and run the
  // program again, answering the actions already run from their recorded results (nothing reruns).
  for (;;) {
    try {
      const inputSize = (uri: string): number => sizes.get(uri) ?? fail(new MissingSize(uri));
      const result = await definition.run({ args: options.args, inputSize, recorded: [...recorded], recordedCallSites: previous?.callSites, runJob, unpersist });
      await Promise.all(unpersisting.splice(0));
      return await finish({ result });
    } catch (err) {
      if (err instanceof MissingSize) sizes.set(err.uri, await session.inputSize(err.uri));
      else if (err instanceof ActionJobFailed) return await finish({ status: err.outcome.status, ok: false, error: { message: err.message, stack: "" } });
      else return await finish((await endedElsewhere(session, applicationId)) ?? { status: "failed", ok: false, error: programError(err) });
    }
  }
}

/**
 * The scheduler's record of an application to resume: a running one (its
 * driver was lost) or a succeeded one (every action answered from its
 * recorded result); a failed or cancelled one is over.
 */
async function resumable(scheduler: Session["scheduler"], applicationId: string): Promise<RecordedApplication> {
  const application = await requireApplicationRecord(scheduler, applicationId);
  if (application.status === "failed" || application.status === "cancelled") {
    throw new ExitError(`application ${applicationId} ${application.status}: ${application.error?.message ?? "no reason given"}; submit its program again to rerun it`, 1);
  }
  return recordedApplication(application);
}

/**
 * The application was ended from outside (`ballast cancel APP_ID`): the program stops with its
 * recorded end, not as its own error. (A succeeded one was over before this replay began: its
 * replay's errors are its own, a non-deterministic program's among them.)
 */
async function endedElsewhere(session: Session, applicationId: string): Promise<Partial<ApplicationOutcome> | undefined> {
  const application = await applicationRecord(session.scheduler, applicationId).catch(() => undefined);
  if (!application || application.status === "running" || application.status === "succeeded") return undefined;
  return { status: application.status, ok: false, error: { message: application.error?.message ?? `application ${application.status}`, stack: "" } };
}

/** The scheduler starts the record's retention. If it cannot be told, the record stays running: `ballast attach` can still end it. */
async function reportEnd(session: Session, outcome: ApplicationOutcome, progress: NodeJS.WritableStream): Promise<void> {
  const status = outcome.status === "running" ? "failed" : outcome.status;
  try {
    await session.finishApplication(outcome.applicationId, status, outcome.error?.message ?? "");
  } catch (err) {
    progress.write(`warning: could not record the end of application ${outcome.applicationId}: ${(err as Error).message}\n`);
  }
}

function fail(err: Error): never {
  throw err;
}

/** The program's own mistake: its message, and only the frames in the user's code. */
function programError(err: unknown): { message: string; stack: string } {
  const e = err as Error | undefined;
  if (e?.name === "JobDefinitionError" || e?.name === "ActionError" || err instanceof JobFileError) {
    return { message: e!.message, stack: "" };
  }
  return { message: `the driver program threw: ${e?.message ?? String(err)}`, stack: userFrames(e?.stack) };
}
