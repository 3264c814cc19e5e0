import type { HistoryEvent, Input } from "../core/types.js";

/** One logged input with what must become durable in the same transaction. */
export interface LogRecord {
  /** Assigned by the shell (last durable seq + 1, ...), so a snapshot can name it before the commit. */
  seq: number;
  now: number;
  input: Input;
  /** History events the input emitted: durable with it, so the outbox never misses one. */
  events: HistoryEvent[];
  /** A submitted job's client submission id and trace context, kept outside the replayed state. */
  jobs: JobRecord[];
  /**
   * Jobs the input evicted from the state (retention): their records are deleted in the same
   * transaction, so the table holds only the jobs the scheduler still holds, not one row per job ever.
   */
  forgetJobs?: string[];
  /** Set when the core threw on the input: why. Kept in the log for the record, skipped on replay. */
  rejected?: string;
}

export interface JobRecord {
  jobId: string;
  submissionId: string;
  traceparent: string;
}

export interface Replay {
  /** The latest snapshot of the asked state format (v8-serialized state after input `seq`). */
  snapshot?: { seq: number; state: Uint8Array };
  /** The inputs after the snapshot, in order. */
  inputs: Array<{ seq: number; input: Input; now: number; rejected?: string }>;
  /** The highest seq in the log (0 when empty): the next append starts after it. */
  lastSeq: number;
}

/**
 * What the scheduler keeps durable: the inputs of its state machine
 * (replayed after a crash, from the latest snapshot on), the outbox of
 * history events, job records and the leadership lease. Asynchronous so a
 * networked database (PostgreSQL) can back it; SQLite is the embedded default.
 * The shared contract suite (schedulerStore.contract.test.ts) holds both to it.
 */
export interface SchedulerStore {
  readonly applicationId: string;
  readonly lease: LeaseStore;
  /**
   * Appends records in one transaction, fenced: rejects with LeaseLostError
   * when the lease has moved past `epoch` (checked in the same transaction).
   * Retrying a batch whose commit did reach the database is a no-op.
   */
  append(records: LogRecord[], epoch: number): Promise<void>;
  loadForReplay(format: number): Promise<Replay>;
  /**
   * Keeps the two newest snapshots and compacts behind this one: inputs before
   * `seq` and events already published to history are deleted.
   */
  saveSnapshot(seq: number, state: Uint8Array, format: number): Promise<void>;
  eventsAfter(seq: number, limit: number): Promise<Array<{ seq: number; event: HistoryEvent }>>;
  publishedSeq(): Promise<number>;
  /** History acknowledged the events up to `seq`: the mark moves forward and their rows are deleted. */
  markPublished(seq: number): Promise<void>;
  /** An atomic counter: two calls never return the same number. */
  nextJobNumber(): Promise<number>;
  jobForSubmission(submissionId: string): Promise<string | undefined>;
  traceparentOfJob(jobId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** Times are the database's clock (ms); a scheduler never compares them with its own. */
export interface LeaseRecord {
  holder: string;
  address: string;
  epoch: number;
  expiresAtMs: number;
  renewedAtMs: number;
}

export type AcquireResult =
  | { acquired: true; lease: LeaseRecord; previous?: LeaseRecord; databaseNowMs: number }
  /** `holder`: the live lease someone else holds. */
  | { acquired: false; holder: LeaseRecord };

/** Expiry is judged by the database inside each transaction, never by the caller's clock. */
export interface LeaseStore {
  /** Takes the lease when it is free, expired or already ours; a new holder gets epoch + 1. */
  tryAcquire(holder: string, address: string, timeoutMs: number): Promise<AcquireResult>;
  /** Extends our lease; false when someone else holds it now (we must step down). */
  renew(holder: string, epoch: number, timeoutMs: number): Promise<boolean>;
  release(holder: string, epoch: number): Promise<void>;
}

export class LeaseLostError extends Error {}
