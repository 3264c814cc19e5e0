import { Packr } from "msgpackr";
import type { HistoryEvent, Input } from "../core/types.js";
import type { AcquireResult, LeaseRecord } from "./schedulerStore.js";

// Plain arrays and objects round-trip; Uint8Array (collect results) stays binary.
const packr = new Packr({ useRecords: false });

/** The bytes both backends keep for inputs and events. */
export const encodeBody = (value: Input | HistoryEvent): Buffer => packr.pack(value);
export const decodeInput = (bytes: Uint8Array): Input => packr.unpack(bytes) as Input;
export const decodeEvent = (bytes: Uint8Array): HistoryEvent => packr.unpack(bytes) as HistoryEvent;

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
