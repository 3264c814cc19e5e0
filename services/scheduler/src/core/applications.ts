/**
 * Driver programs' applications: the durable record `ballast attach` resumes
 * from. An application is registered by its driver before its first action;
 * each of its jobs is recorded under the action it answers (the latest job
 * per action wins), and when that job ends its view is kept here, so the
 * action's result outlives the job's own retention. The record leaves the
 * state ballast.scheduler.applicationRetention after the driver finished.
 */
import type { Ctx } from "./context.js";
import type { ActionRecord, ApplicationState, JobState, SchedulerState } from "./state.js";
import { clearTimer, setTimer } from "./timers.js";
import type { ApplicationView, Input, JobView } from "./types.js";
import { viewOfJob } from "./views.js";

type Registration = Extract<Input, { type: "applicationRegistered" }>;
type Finish = Extract<Input, { type: "applicationFinished" }>;

/** Returns the new record; undefined when the id was registered already. */
export function registerApplication(ctx: Ctx, input: Registration): ApplicationState | undefined {
  if (ctx.state.applications.has(input.applicationId)) return undefined; // a retried or replayed registration
  const application: ApplicationState = {
    applicationId: input.applicationId,
    name: input.name,
    user: input.user,
    bundleDigest: input.bundleDigest,
    args: [...input.args],
    conf: { ...input.conf },
    status: "running",
    registeredAtMs: ctx.now,
    finishedAtMs: 0,
    actions: new Map(),
    recordedBytes: 0,
    detached: input.detached === true,
  };
  ctx.state.applications.set(input.applicationId, application);
  return application;
}

/**
 * The driver program ended. Returns the ids of the application's jobs that
 * are still running when it was cancelled (the caller cancels them); a finish
 * of an unknown or already finished application changes nothing.
 */
export function finishApplication(ctx: Ctx, input: Finish): string[] {
  const application = ctx.state.applications.get(input.applicationId);
  if (application?.status !== "running") return [];
  application.status = input.status;
  application.finishedAtMs = ctx.now;
  if (input.status !== "succeeded") application.error = { kind: input.status, message: input.error || `application ${input.status}`, stack: "" };
  setTimer(ctx.state, "applicationEviction", application.applicationId, ctx.now + ctx.state.conf["ballast.scheduler.applicationRetention"]);
  if (input.status !== "cancelled") return [];
  return [...application.actions.values()].filter((action) => !action.ended).map((action) => action.jobId);
}

/** The applicationEviction timer fired: the record goes (its jobs and cache have their own retention). */
export function evictApplication(ctx: Ctx, applicationId: string): void {
  ctx.state.applications.delete(applicationId);
  clearTimer(ctx.state, "applicationEviction", applicationId);
}

/** submitJob: a job of a running application's action becomes that action's latest job. */
export function recordActionSubmitted(state: SchedulerState, job: JobState): void {
  const record = runningApplicationOf(state, job);
  if (record) record.application.actions.set(record.actionIndex, { jobId: job.jobId });
}

/**
 * closeJob: the action's job ended; its view is kept as it ended (its stages
 * left out: nothing reads them again), while the application's kept results
 * stay within ballast.scheduler.applicationResults. Beyond, the action is
 * not recorded: a resumed driver reruns it (and what follows).
 */
export function recordActionEnded(state: SchedulerState, job: JobState): void {
  const record = runningApplicationOf(state, job);
  if (!record) return;
  const { application, actionIndex } = record;
  const action = application.actions.get(actionIndex);
  if (action?.jobId !== job.jobId) return;
  const bytes = (job.result?.partitionRecords ?? []).reduce((sum, records) => sum + records.byteLength, 0);
  if (application.recordedBytes + bytes > state.conf["ballast.scheduler.applicationResults"]) {
    application.actions.delete(actionIndex);
    return;
  }
  application.recordedBytes += bytes;
  action.ended = { ...viewOfJob(state, job), stages: [] };
}

function runningApplicationOf(state: SchedulerState, job: JobState): { application: ApplicationState; actionIndex: number } | undefined {
  const application = state.applications.get(job.applicationId);
  const actionIndex = job.plan.driver?.actionIndex;
  if (application?.status !== "running" || actionIndex === undefined) return undefined;
  return { application, actionIndex };
}

export function applicationView(state: SchedulerState, applicationId: string): ApplicationView | undefined {
  const application = state.applications.get(applicationId);
  if (!application) return undefined;
  const { actions, error, driver, recordedBytes: _bytes, ...fields } = application;
  const view: ApplicationView = { ...fields, args: [...fields.args], conf: { ...fields.conf }, actions: actionViews(state, actions) };
  if (error) view.error = { ...error };
  if (driver) view.driver = { ...driver };
  return view;
}

/** In action order; a job still running is shown as it is now, if the scheduler still holds it. */
function actionViews(state: SchedulerState, actions: Map<number, ActionRecord>): JobView[] {
  const views: JobView[] = [];
  for (const index of [...actions.keys()].sort((a, b) => a - b)) {
    const action = actions.get(index)!;
    const live = state.jobs.get(action.jobId);
    const view = action.ended ?? (live && viewOfJob(state, live));
    if (view) views.push(view);
  }
  return views;
}
