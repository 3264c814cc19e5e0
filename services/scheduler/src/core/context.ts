/**
 * One step's working context: the state, the step's `now`, the commands
 * produced so far, the jobs whose view changed (one jobChanged each,
 * appended when the step ends), and the FIFO queue of internal events that
 * the dispatcher (handlers.ts) drains.
 */
import type { InternalEvent } from "./internalEvents.js";
import type { SchedulerState } from "./state.js";
import type { Command, HistoryEvent } from "./types.js";

export interface Ctx {
  state: SchedulerState;
  now: number;
  out: Command[];
  changed: Set<string>;
  queue: InternalEvent[];
}

type Attributes = Record<string, string | number | boolean>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type EventBody = DistributiveOmit<HistoryEvent, "jobId" | "timeMs">;

export function newCtx(state: SchedulerState, now: number): Ctx {
  return { state, now, out: [], changed: new Set(), queue: [] };
}

/** Queues an internal event; it is handled after everything queued before it. */
export function raise(ctx: Ctx, event: InternalEvent): void {
  ctx.queue.push(event);
}

/** Cluster-level events (executors) carry an empty job id. */
export function emitEvent(ctx: Ctx, jobId: string, body: EventBody): void {
  ctx.out.push({ type: "emitEvent", event: { jobId, timeMs: ctx.now, ...body } as HistoryEvent });
}

export function markChanged(ctx: Ctx, jobId: string): void {
  ctx.changed.add(jobId);
}

export function flushChanged(ctx: Ctx): void {
  for (const jobId of ctx.changed) ctx.out.push({ type: "jobChanged", jobId });
  ctx.changed.clear();
}

export const jobSpanKey = (jobId: string): string => `job:${jobId}`;
export const stageSpanKey = (jobId: string, stageId: number, attempt: number): string =>
  `stage:${jobId}:${stageId}.${attempt}`;
export const taskSpanKey = (taskId: string): string => `task:${taskId}`;

export function spanStart(
  ctx: Ctx,
  key: string,
  name: string,
  attributes: Attributes,
  parent: { parentKey?: string; parentTraceparent?: string },
  startTime?: number,
): void {
  ctx.out.push({ type: "spanStart", key, name, attributes, ...parent, ...(startTime === undefined ? {} : { startTime }) });
}

export function spanEvent(ctx: Ctx, key: string, name: string, attributes: Attributes = {}): void {
  ctx.out.push({ type: "spanEvent", key, name, attributes });
}

export function spanEnd(ctx: Ctx, key: string, error?: string): void {
  ctx.out.push(error === undefined ? { type: "spanEnd", key } : { type: "spanEnd", key, error });
}

/** Cluster-level changes (exclusion, decommission, node loss) show in every running job's trace. */
export function spanEventOnRunningJobs(ctx: Ctx, name: string, attributes: Attributes): void {
  for (const jobId of ctx.state.runningJobs) spanEvent(ctx, jobSpanKey(jobId), name, attributes);
}
