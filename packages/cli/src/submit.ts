import { randomUUID } from "node:crypto";
import type { JobDefinition } from "ballast";
import type { Plan } from "@ballast/common/plan";
import { runApplication, type ApplicationOutcome } from "./application.js";
import { JobFileError, userFrames } from "./bundle.js";
import { ProgressView } from "./progress.js";
import { summarize, type JobOutcome } from "./outcome.js";
import { MissingSize, withSession, type Session, type SubmitOptions } from "./session.js";
import { watchJob } from "./watch.js";

export type { SubmitHooks, SubmitOptions } from "./session.js";

export type ProgramOutcome = { kind: "job"; outcome: JobOutcome } | { kind: "application"; outcome: ApplicationOutcome };

/** `ballast submit` of either kind of file: a job is submitted and watched; an application's driver program runs here. */
export function submitProgram(options: SubmitOptions): Promise<ProgramOutcome> {
  return withSession(options, async (session): Promise<ProgramOutcome> =>
    session.bundle.definition.kind === "ballast-app"
      ? { kind: "application", outcome: await runApplication(session, options) }
      : { kind: "job", outcome: await submitAndWatch(session, options) },
  );
}

/** Bundles, uploads, plans, submits and watches a job to its end. */
export function submitJob(options: SubmitOptions): Promise<JobOutcome> {
  return withSession(options, (session) => submitAndWatch(session, options));
}

export type Started = { kind: "job"; jobId: string } | { kind: "application"; applicationId: string };

/**
 * `submit --detach`: returns as soon as the scheduler has the work. A job is
 * submitted; an application is registered detached, and the scheduler runs
 * its driver program on an executor (its bundle is staged like any submit's).
 */
export function startProgram(options: SubmitOptions): Promise<Started> {
  return withSession(options, async (session): Promise<Started> => {
    const definition = session.bundle.definition;
    if (definition.kind === "ballast-job") return { kind: "job", jobId: (await submitPlanned(session, options)).jobId };
    if (options.applicationId) throw new JobFileError("--detach starts a new application; to follow a detached one: ballast attach APP_ID");
    const applicationId = `app-${randomUUID()}`;
    await session.registerApplication(applicationId, definition.name, options.args, true);
    return { kind: "application", applicationId };
  });
}

async function submitAndWatch(session: Session, options: SubmitOptions): Promise<JobOutcome> {
  const { jobId, submittedAt } = await submitPlanned(session, options);
  const final = await watchJob(session.scheduler, jobId, new ProgressView(options.progress ?? process.stderr, `submitted ${jobId}`));
  // The job's trace is the submission's span: the scheduler and executors continue it.
  return { ...summarize(final, Date.now() - submittedAt), traceId: session.traceId };
}

async function submitPlanned(session: Session, options: SubmitOptions): Promise<{ jobId: string; submittedAt: number }> {
  const definition = session.bundle.definition as JobDefinition;
  const plan = await buildPlan(definition, options.args, session.inputSize);
  const submittedAt = Date.now();
  return { jobId: await session.submit(plan), submittedAt };
}

/** Input sizes are fixed at submit so every executor computes the same splits; sizes are gathered first because buildPlan is synchronous. */
async function buildPlan(definition: JobDefinition, args: string[], size: (uri: string) => Promise<number>): Promise<Plan> {
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
          throw new MissingSize(uri);
        },
      }).plan;
    } catch (err) {
      if (!(err instanceof MissingSize)) throw planError(err);
    }
    if (plan) return plan;
    sizes.set(missing!, await size(missing!));
  }
}

export function planError(err: unknown): Error {
  const e = err as Error;
  if (e?.name === "JobDefinitionError") return new JobFileError(e.message);
  return new JobFileError(`the job threw while building its plan: ${e?.message ?? String(err)}\n${userFrames(e?.stack)}`);
}

