import type { PublishedEvent } from "@ballast/common/domain/events";
import type {
  ApplicationSummary,
  EventQuery,
  ExecutorSummary,
  FailoverSummary,
  JobSummary,
  NodeSummary,
  StageSummary,
  TaskSummary,
} from "../core/summaries.js";

/**
 * Turns events into the bytes kept in the log and back. The service plugs in
 * the wire codec (rpc/eventCodec.ts) so the log holds events.proto bytes; the
 * store itself never sees the wire format.
 */
export interface EventCodec {
  encode(event: PublishedEvent): Uint8Array;
  decode(bytes: Uint8Array): PublishedEvent;
}

/** An event history refused to store (it does not convert, or breaks a limit): kept aside, with why. */
export interface DeadLetter {
  seq: number;
  timeMs: number;
  /** The payload's type as sent ("" when it had none). */
  type: string;
  reason: string;
}

/** Which ended jobs history keeps (0: no bound of that kind); running jobs are always kept. */
export interface RetentionPolicy {
  /** The newest this many ended jobs per application. */
  keepJobs: number;
  /** Jobs that ended less than this long ago. */
  keepForMs: number;
}

/** What recording a login ticket's use found: first use logs in; a full table logs no one in. */
export type TicketClaim = "first use" | "used before" | "full";

export interface PublishResult {
  /** The highest seq stored for the application after this call. */
  ackedSeq: number;
  /** How many of the events were new (the rest were already stored). */
  inserted: number;
}

/**
 * Where history keeps event logs and their projections. SQLite is the default
 * (sqlite-store.ts); the interface is async so a networked backend can be
 * plugged in. Lookups of unknown ids return undefined / empty lists; deciding
 * that this is an error is the caller's business.
 */
export interface HistoryStore {
  /**
   * Stores the events not stored yet (by application and seq) and updates the
   * projections in the same transaction. Resending a batch is harmless, and
   * projections do not depend on the order in which batches arrive.
   * Dead letters are recorded (once per seq) and count as acknowledged, so the
   * publisher moves past them.
   */
  publish(applicationId: string, events: PublishedEvent[], deadLetters?: DeadLetter[]): Promise<PublishResult>;
  /** The events refused for the application, in seq order. */
  listDeadLetters(applicationId: string): Promise<DeadLetter[]>;
  listApplications(): Promise<ApplicationSummary[]>;
  getApplication(applicationId: string): Promise<ApplicationSummary | undefined>;
  /** With driverApplicationId: only the jobs of that driver program's application. */
  listJobs(applicationId: string, driverApplicationId?: string): Promise<JobSummary[]>;
  getJob(applicationId: string, jobId: string): Promise<JobSummary | undefined>;
  listStages(applicationId: string, jobId: string): Promise<StageSummary[]>;
  listTasks(applicationId: string, jobId: string): Promise<TaskSummary[]>;
  listExecutors(applicationId: string): Promise<ExecutorSummary[]>;
  /** Nodes named by an executor or by a node event, by node id. */
  listNodes(applicationId: string): Promise<NodeSummary[]>;
  /** Scheduler failovers in seq order. */
  listFailovers(applicationId: string): Promise<FailoverSummary[]>;
  /** Events in seq order. */
  listEvents(applicationId: string, query: EventQuery): Promise<PublishedEvent[]>;
  /** Deletes the ended jobs the policy no longer keeps, with their events, stages and tasks; returns how many. */
  prune(policy: RetentionPolicy, nowMs: number): Promise<number>;
  /**
   * Records a login ticket's use (`id`: its MAC) until `expiresAtMs`, when verification refuses
   * it anyway; expired records are deleted on the way. Kept in the store, not in memory, so a
   * restarted history (or another one on the same PostgreSQL) refuses a used ticket too. At most
   * `capacity` live records: a full table refuses new tickets rather than forget a replayable one.
   */
  claimTicket(id: string, expiresAtMs: number, nowMs: number, capacity: number): Promise<TicketClaim>;
  close(): Promise<void>;
}
