/**
 * Timers as data: every time-driven change is an entry (due time, kind, key)
 * in `state.timers`, kept sorted, so `nextDueMs` is the first entry and a
 * tick fires exactly the entries that are due; no timer can be forgotten by
 * a hand-written list. Whoever changes the state a timer depends on sets or
 * clears it in the same place. Entries are plain objects in an array, so
 * snapshots clone them like the rest of the state.
 */
import type { SchedulerState, TimerEntry, TimerKind } from "./state.js";

/** The key of a stage's timers (unschedulable, stragglerCopy): "<jobId>/<stageId>"; parsed back by parseStageTimerKey. */
export const stageTimerKey = (jobId: string, stageId: number): string => `${jobId}/${stageId}`;

export function parseStageTimerKey(key: string): { jobId: string; stageId: number } {
  const slash = key.lastIndexOf("/");
  return { jobId: key.slice(0, slash), stageId: Number(key.slice(slash + 1)) };
}

/** Entries due at the same time fire in this order (the order the tick used to check them in). */
const RANK: Record<TimerKind, number> = {
  heartbeat: 0,
  executorExclusion: 1,
  nodeExclusion: 2,
  unschedulable: 3,
  decommissionDeadline: 4,
  resubmit: 5,
  speculativeCopy: 6,
  stragglerCopy: 7,
  taskTimeout: 8,
  jobEviction: 9,
  applicationEviction: 10,
};

function precedes(a: TimerEntry, b: TimerEntry): boolean {
  if (a.dueMs !== b.dueMs) return a.dueMs < b.dueMs;
  if (a.kind !== b.kind) return RANK[a.kind] < RANK[b.kind];
  return a.key < b.key;
}

/** Sets (or moves) the one timer of this kind and key. */
export function setTimer(state: SchedulerState, kind: TimerKind, key: string, dueMs: number): void {
  clearTimer(state, kind, key);
  const entry: TimerEntry = { dueMs, kind, key };
  const timers = state.timers;
  let low = 0;
  let high = timers.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (precedes(timers[mid]!, entry)) low = mid + 1;
    else high = mid;
  }
  timers.splice(low, 0, entry);
}

export function clearTimer(state: SchedulerState, kind: TimerKind, key: string): void {
  const index = state.timers.findIndex((entry) => entry.kind === kind && entry.key === key);
  if (index >= 0) state.timers.splice(index, 1);
}

export function timerDueMs(state: SchedulerState, kind: TimerKind, key: string): number | undefined {
  return state.timers.find((entry) => entry.kind === kind && entry.key === key)?.dueMs;
}

/** The earliest due time; Infinity when no timer is set. */
export function firstDueMs(state: SchedulerState): number {
  return state.timers[0]?.dueMs ?? Infinity;
}

/** Removes and returns the first entry due by `now` (of one of `kinds`, if given). */
export function takeDueTimer(state: SchedulerState, now: number, kinds?: ReadonlySet<TimerKind>): TimerEntry | undefined {
  const timers = state.timers;
  for (let index = 0; index < timers.length && timers[index]!.dueMs <= now; index++) {
    if (!kinds || kinds.has(timers[index]!.kind)) return timers.splice(index, 1)[0];
  }
  return undefined;
}

export function timersOfKind(state: SchedulerState, kind: TimerKind): TimerEntry[] {
  return state.timers.filter((entry) => entry.kind === kind);
}
