import { Packr } from "msgpackr";
import type { HistoryEvent, Input } from "../core/types.js";
import type { AcquireResult, LeaseRecord, LogRecord } from "./schedulerStore.js";

// Plain arrays and objects round-trip; Uint8Array (collect results) stays binary.
const packr = new Packr({ useRecords: false });

/** The bytes both backends keep for inputs and events. */
export const encodeBody = (value: Input | HistoryEvent): Buffer => packr.pack(value);

/** An input the core threw on: logged so operators can see it, never replayed. */
interface RejectedBody {
  rejectedInput: Input;
  reason: string;
}

/** A logged input's bytes: the input itself, or a rejected one wrapped with its reason. */
export const encodeLogged = (record: Pick<LogRecord, "input" | "rejected">): Buffer =>
  packr.pack(record.rejected === undefined ? record.input : ({ rejectedInput: record.input, reason: record.rejected } satisfies RejectedBody));

export function decodeLogged(bytes: Uint8Array): { input: Input; rejected?: string } {
  const body = packr.unpack(bytes) as Input | RejectedBody;
  return "rejectedInput" in body ? { input: body.rejectedInput, rejected: body.reason } : { input: body };
}
export const decodeEvent = (bytes: Uint8Array): HistoryEvent => packr.unpack(bytes) as HistoryEvent;

/** A SQLite outbox row's bytes: the events of one commit, in seq order. */
export const encodeEventRow = (events: HistoryEvent[]): Buffer => packr.pack(events);

/** A SQLite outbox row's events: an array, or one event alone (a row written before rows held several). */
export function decodeEventRow(bytes: Uint8Array): HistoryEvent[] {
  const body = packr.unpack(bytes) as HistoryEvent | HistoryEvent[];
  return Array.isArray(body) ? body : [body];
}

/**
 * The lease rule both backends apply inside their transaction, with the
 * database's `nowMs`: the lease is free, expired or already ours; a new holder
 * gets the next epoch. Returns the lease to write, or who holds it.
 */
export function decideAcquire(current: LeaseRecord | undefined, holder: string, address: string, nowMs: number, timeoutMs: number): AcquireResult {
  if (current && current.holder !== holder && current.expiresAtMs > nowMs) return { acquired: false, holder: current };
  const ours = current?.holder === holder;
  const epoch = ours ? current!.epoch : (current?.epoch ?? 0) + 1;
  const lease = { holder, address, epoch, expiresAtMs: nowMs + timeoutMs, renewedAtMs: nowMs };
  // An empty row (holder "") is no previous leader.
  return { acquired: true, lease, previous: current && current.holder && !ours ? current : undefined, databaseNowMs: nowMs };
}
