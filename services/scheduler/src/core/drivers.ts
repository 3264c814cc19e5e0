/**
 * Supervised drivers of detached applications (`ballast submit --detach`):
 * the core places each one on a usable executor (launchDriver), and places it
 * again when it crashes or its executor is lost, until it failed
 * ballast.driver.maxFailures times; then the application fails with the
 * last cause. A placed driver resumes by replay: finished actions answer from
 * the application's record, a running job is rejoined.
 */
import { resolveConf } from "@ballast/common/config";
import { finishApplication } from "./applications.js";
import type { Ctx } from "./context.js";
import { isUsable } from "./clusterQueries.js";
import { cancelJob } from "./jobs.js";
import type { ApplicationState, ExecutorState, SchedulerState } from "./state.js";
import type { ExecutorDescription, Input } from "./types.js";

type DriverExit = Extract<Input, { type: "driverExited" }>;

/** A new detached application's driver: placed by the next superviseDrivers pass. */
export function startDriver(application: ApplicationState): void {
  application.driver = { executorId: "", attempt: 0, failures: 0, lastFailure: "" };
}

/** A driver's process exited. A stale attempt's exit, or one after the application ended, changes nothing. */
export function onDriverExited(ctx: Ctx, input: DriverExit): void {
  const application = supervised(ctx.state).find((a) => a.applicationId === input.applicationId);
  const driver = application?.driver;
  if (!application || !driver || driver.attempt !== input.attempt || driver.executorId !== input.executorId) return;
  const how = input.exitCode === 0 ? "exited before the application ended" : `exited with code ${input.exitCode}`;
  failDriver(ctx, application, `driver attempt ${input.attempt} on executor ${input.executorId} ${how}${input.reason ? `: ${input.reason}` : ""}`);
}

/**
 * An executor (re-)registered listing the drivers it runs: those believed
 * there that it does not run (a restarted process, a launch that never
 * arrived) are placed again, not counted as failures; those it runs but
 * that are placed elsewhere now, or whose application ended (it was lost
 * meanwhile, e.g. stopped or cut off), are stopped, so only one attempt replays.
 */
export function reconcileDrivers(ctx: Ctx, description: ExecutorDescription): void {
  if (!description.runningDrivers) return;
  const { executorId } = description;
  const running = new Set(description.runningDrivers);
  for (const application of supervised(ctx.state)) {
    if (application.driver!.executorId === executorId && !running.has(application.applicationId)) application.driver!.executorId = "";
  }
  for (const applicationId of running) {
    const application = ctx.state.applications.get(applicationId);
    if (application?.status === "running" && application.driver?.executorId === executorId) continue;
    const reason = application?.status === "running" ? `placed on ${application.driver?.executorId || "no executor yet"} since this executor was lost` : "its application is not running";
    ctx.out.push({ type: "stopDriver", executorId, applicationId, reason });
  }
}

/** `ballast cancel APP_ID` of a detached application: its driver stops now rather than at its next action. */
export function stopCancelledDriver(ctx: Ctx, applicationId: string): void {
  const executorId = ctx.state.applications.get(applicationId)?.driver?.executorId;
  if (executorId) ctx.out.push({ type: "stopDriver", executorId, applicationId, reason: "its application was cancelled" });
}

/**
 * After every step: a driver whose executor is lost fails (and is placed
 * again, or the application fails); one waiting for an executor is placed
 * when one is usable.
 */
export function superviseDrivers(ctx: Ctx): void {
  for (const application of supervised(ctx.state)) {
    const driver = application.driver!;
    const host = ctx.state.executors.get(driver.executorId);
    if (host && !host.alive) failDriver(ctx, application, `executor ${driver.executorId} running driver attempt ${driver.attempt} lost: ${host.lostReason}`);
    else if (driver.executorId === "") placeDriver(ctx, application);
  }
}

function failDriver(ctx: Ctx, application: ApplicationState, why: string): void {
  const driver = application.driver!;
  const failedOn = driver.executorId;
  driver.failures++;
  driver.lastFailure = why;
  driver.executorId = "";
  const limit = resolveConf({ ...ctx.state.baseConf, ...application.conf }, {})["ballast.driver.maxFailures"];
  if (driver.failures < limit) return placeDriver(ctx, application, failedOn);
  const error = `the driver failed ${driver.failures} time(s) (ballast.driver.maxFailures=${limit}); last: ${why}`;
  finishApplication(ctx, { type: "applicationFinished", applicationId: application.applicationId, status: "failed", error });
  for (const action of application.actions.values()) if (!action.ended) cancelJob(ctx, action.jobId, `application ${application.applicationId} failed: ${error}`);
}

/**
 * The usable executor with the fewest drivers (then the lowest id), avoiding
 * the one that just failed it when another can take it. None usable: the
 * driver waits (executorId "") for a later step.
 */
function placeDriver(ctx: Ctx, application: ApplicationState, failedOn = ""): void {
  const driver = application.driver!;
  const candidates = [...ctx.state.executors.values()].filter((e) => isUsable(ctx.state, e) && e.excludedUntilMs === 0);
  const elsewhere = candidates.filter((e) => e.description.executorId !== failedOn);
  const chosen = leastLoaded(ctx.state, elsewhere.length > 0 ? elsewhere : candidates);
  if (!chosen) return;
  driver.executorId = chosen.description.executorId;
  driver.attempt++;
  ctx.out.push({ type: "launchDriver", executorId: driver.executorId, applicationId: application.applicationId, attempt: driver.attempt, user: application.user });
}

function leastLoaded(state: SchedulerState, executors: ExecutorState[]): ExecutorState | undefined {
  const drivers = new Map<string, number>();
  for (const application of supervised(state)) drivers.set(application.driver!.executorId, (drivers.get(application.driver!.executorId) ?? 0) + 1);
  const load = (e: ExecutorState) => drivers.get(e.description.executorId) ?? 0;
  const byId = (a: ExecutorState, b: ExecutorState) => (a.description.executorId < b.description.executorId ? -1 : 1);
  return [...executors].sort((a, b) => load(a) - load(b) || byId(a, b))[0];
}

/** Running detached applications, in registration order. */
function supervised(state: SchedulerState): ApplicationState[] {
  return [...state.applications.values()].filter((a) => a.status === "running" && a.driver !== undefined);
}
