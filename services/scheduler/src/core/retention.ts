/**
 * Ended jobs leave the scheduler's memory (history keeps them): each one
 * `ballast.scheduler.jobRetention` after it ended, and the oldest ones at
 * once beyond `ballast.scheduler.retainedJobs`, so a scheduler that has run
 * 1,000 jobs holds what one that has run 10 does. Driven by timers as data,
 * never by a clock. A job whose killed tasks still hold executor slots stays
 * until they report (their reports need the job), retried every second.
 */
import type { Ctx } from "./context.js";
import type { SchedulerState } from "./state.js";
import { clearTimer, setTimer } from "./timers.js";

const RETRY_MS = 1_000;

/** closeJob: the job is over; it is evicted later, or now if too many ended jobs are held. */
export function retainEndedJob(ctx: Ctx, jobId: string): void {
  const { state } = ctx;
  state.endedJobs.push(jobId);
  setTimer(state, "jobEviction", jobId, ctx.now + state.conf["ballast.scheduler.jobRetention"]);
  const excess = state.endedJobs.length - state.conf["ballast.scheduler.retainedJobs"];
  if (excess <= 0) return;
  const oldest = state.endedJobs.slice(0, excess);
  for (const candidate of oldest) if (!holdsSlots(state, candidate)) evict(ctx, candidate);
}

/** The jobEviction timer fired. */
export function onEvictionDue(ctx: Ctx, jobId: string): void {
  if (!ctx.state.jobs.has(jobId)) return;
  if (holdsSlots(ctx.state, jobId)) setTimer(ctx.state, "jobEviction", jobId, ctx.now + RETRY_MS);
  else evict(ctx, jobId);
}

function holdsSlots(state: SchedulerState, jobId: string): boolean {
  for (const task of state.tasks.values()) if (task.jobId === jobId) return true;
  return false;
}

function evict(ctx: Ctx, jobId: string): void {
  const { state } = ctx;
  state.jobs.delete(jobId);
  state.endedJobs.splice(state.endedJobs.indexOf(jobId), 1);
  // Its own timers (resubmit, stage timers "<jobId>/<stageId>") must not fire on a job that is gone.
  state.timers = state.timers.filter((timer) => timer.key !== jobId && !timer.key.startsWith(`${jobId}/`));
  clearTimer(state, "jobEviction", jobId);
  ctx.out.push({ type: "jobEvicted", jobId });
}
