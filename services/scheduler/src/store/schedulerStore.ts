import { Packr } from "msgpackr";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { openDatabase, type SqliteDatabase } from "@ballast/common/sqlite";
import type { HistoryEvent, Input } from "../core/types.js";

/**
 * What the scheduler keeps durable: the inputs of its state machine
 * (replayed after a crash, from the latest snapshot on), the outbox of
 * history events, and the leadership lease. Behind an interface so a
 * networked backend (PostgreSQL) can replace SQLite.
 */
export interface SchedulerStore {
  readonly applicationId: string;
  /** Appends an input, fenced: throws LeaseLostError when another scheduler holds a newer epoch. */
  appendInput(input: Input, now: number, epoch: number): number;
  /** The latest snapshot of this state format (if any) and the inputs after it, in order. */
  loadForReplay(format: number): { snapshot?: { seq: number; state: unknown }; inputs: Array<{ seq: number; input: Input; now: number }> };
  saveSnapshot(seq: number, state: unknown, format: number): void;
  appendEvent(event: HistoryEvent): number;
  eventsAfter(seq: number, limit: number): Array<{ seq: number; event: HistoryEvent }>;
  publishedSeq(): number;
  markPublished(seq: number): void;
  nextJobNumber(): number;
  /** Remembers a job's client submission id and trace context, outside the replayed state. */
  recordJob(jobId: string, submissionId: string, traceparent: string): void;
  jobForSubmission(submissionId: string): string | undefined;
  traceparentOfJob(jobId: string): string | undefined;
  lease: LeaseStore;
  close(): void;
}

export interface LeaseRecord {
  holder: string;
  address: string;
  epoch: number;
  expiresAtMs: number;
  renewedAtMs: number;
}

export interface LeaseStore {
  current(): LeaseRecord | undefined;
  /** Takes the lease when it is free, expired or already ours; a new holder gets epoch + 1. Returns it and the lease it replaced. */
  tryAcquire(holder: string, address: string, now: number, timeoutMs: number): { lease: LeaseRecord; previous?: LeaseRecord } | undefined;
  /** Extends our lease; false when someone else holds it now (we must step down). */
  renew(holder: string, epoch: number, now: number, timeoutMs: number): boolean;
  release(holder: string, epoch: number): void;
}

export class LeaseLostError extends Error {}

const MIGRATIONS = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE inputs (seq INTEGER PRIMARY KEY AUTOINCREMENT, now INTEGER NOT NULL, body BLOB NOT NULL);
   CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, body BLOB NOT NULL);`,
  `CREATE TABLE lease (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, address TEXT NOT NULL,
     epoch INTEGER NOT NULL, expires_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL);
   CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
   CREATE TABLE jobs (job_id TEXT PRIMARY KEY, submission_id TEXT, traceparent TEXT NOT NULL);
   CREATE UNIQUE INDEX jobs_by_submission ON jobs (submission_id) WHERE submission_id IS NOT NULL;`,
  `ALTER TABLE snapshots ADD COLUMN format INTEGER NOT NULL DEFAULT 0;`,
];

// Plain arrays and objects round-trip; Uint8Array (collect results) stays binary.
const packr = new Packr({ useRecords: false });

export class SqliteSchedulerStore implements SchedulerStore {
  readonly applicationId: string;
  readonly lease: LeaseStore;
  private readonly db: SqliteDatabase;
  private readonly insertInput;
  private readonly insertEvent;
  private readonly selectEvents;

  constructor(dataDir: string) {
    this.db = openDatabase(join(dataDir, "scheduler.sqlite"), MIGRATIONS);
    // WAL with synchronous=NORMAL survives a process crash (our failure model)
    // while keeping one commit per input cheap enough for 5,000+ tasks/s.
    this.db.pragma("synchronous = NORMAL");
    this.applicationId = this.meta("application_id") ?? this.initMeta("application_id", `app-${randomUUID().slice(0, 8)}`);
    // The epoch check makes the log itself the fence: a deposed leader cannot append.
    this.insertInput = this.db.prepare("INSERT INTO inputs (now, body) SELECT ?, ? WHERE (SELECT epoch FROM lease WHERE id = 1) = ?");
    this.insertEvent = this.db.prepare("INSERT INTO events (job_id, body) VALUES (?, ?)");
    this.selectEvents = this.db.prepare("SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    this.lease = new SqliteLease(this.db);
  }

  appendInput(input: Input, now: number, epoch: number): number {
    const result = this.insertInput.run(now, packr.pack(input), epoch);
    if (result.changes === 0) throw new LeaseLostError(`the lease moved past epoch ${epoch}`);
    return Number(result.lastInsertRowid);
  }

  loadForReplay(format: number) {
    const snap = this.db.prepare("SELECT seq, state FROM snapshots WHERE format = ? ORDER BY seq DESC LIMIT 1").get(format) as { seq: number; state: Buffer } | undefined;
    const after = snap?.seq ?? 0;
    const rows = this.db.prepare("SELECT seq, now, body FROM inputs WHERE seq > ? ORDER BY seq").all(after) as Array<{ seq: number; now: number; body: Buffer }>;
    return {
      snapshot: snap && { seq: snap.seq, state: deserialize(snap.state) },
      inputs: rows.map((r) => ({ seq: r.seq, now: r.now, input: packr.unpack(r.body) as Input })),
    };
  }

  /** Keeps the two newest snapshots; each is written atomically by SQLite. */
  saveSnapshot(seq: number, state: unknown, format: number): void {
    this.db.transaction(() => {
      this.db.prepare("INSERT OR REPLACE INTO snapshots (seq, state, format) VALUES (?, ?, ?)").run(seq, serialize(state), format);
      this.db.prepare("DELETE FROM snapshots WHERE seq < (SELECT MIN(seq) FROM (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2))").run();
    })();
  }

  appendEvent(event: HistoryEvent): number {
    return Number(this.insertEvent.run(event.jobId, packr.pack(event)).lastInsertRowid);
  }

  eventsAfter(seq: number, limit: number): Array<{ seq: number; event: HistoryEvent }> {
    const rows = this.selectEvents.all(seq, limit) as Array<{ seq: number; body: Buffer }>;
    return rows.map((r) => ({ seq: r.seq, event: packr.unpack(r.body) as HistoryEvent }));
  }

  publishedSeq(): number {
    return Number(this.meta("published_seq") ?? "0");
  }

  markPublished(seq: number): void {
    if (seq > this.publishedSeq()) this.setMeta("published_seq", String(seq));
  }

  nextJobNumber(): number {
    const next = Number(this.meta("job_counter") ?? "0") + 1;
    this.setMeta("job_counter", String(next));
    return next;
  }

  recordJob(jobId: string, submissionId: string, traceparent: string): void {
    this.db.prepare("INSERT OR IGNORE INTO jobs (job_id, submission_id, traceparent) VALUES (?, ?, ?)").run(jobId, submissionId || null, traceparent);
  }

  jobForSubmission(submissionId: string): string | undefined {
    return (this.db.prepare("SELECT job_id FROM jobs WHERE submission_id = ?").get(submissionId) as { job_id: string } | undefined)?.job_id;
  }

  traceparentOfJob(jobId: string): string | undefined {
    return (this.db.prepare("SELECT traceparent FROM jobs WHERE job_id = ?").get(jobId) as { traceparent: string } | undefined)?.traceparent || undefined;
  }

  close(): void {
    this.db.close();
  }

  private meta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  /** Sets a value only if absent (two schedulers may start at once); returns the stored value. */
  private initMeta(key: string, value: string): string {
    this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)").run(key, value);
    return this.meta(key)!;
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }
}

class SqliteLease implements LeaseStore {
  constructor(private readonly db: SqliteDatabase) {}

  current(): LeaseRecord | undefined {
    const row = this.db.prepare("SELECT holder, address, epoch, expires_at, renewed_at FROM lease WHERE id = 1").get() as
      | { holder: string; address: string; epoch: number; expires_at: number; renewed_at: number }
      | undefined;
    return row && { holder: row.holder, address: row.address, epoch: row.epoch, expiresAtMs: row.expires_at, renewedAtMs: row.renewed_at };
  }

  tryAcquire(holder: string, address: string, now: number, timeoutMs: number): { lease: LeaseRecord; previous?: LeaseRecord } | undefined {
    // IMMEDIATE: two standbys racing for an expired lease serialize here.
    return this.db.transaction(() => {
      const lease = this.current();
      if (lease && lease.holder !== holder && lease.expiresAtMs > now) return undefined;
      const epoch = lease && lease.holder === holder ? lease.epoch : (lease?.epoch ?? 0) + 1;
      this.db
        .prepare("INSERT INTO lease (id, holder, address, epoch, expires_at, renewed_at) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, address = excluded.address, epoch = excluded.epoch, expires_at = excluded.expires_at, renewed_at = excluded.renewed_at")
        .run(holder, address, epoch, now + timeoutMs, now);
      return { lease: { holder, address, epoch, expiresAtMs: now + timeoutMs, renewedAtMs: now }, previous: lease };
    }).immediate();
  }

  renew(holder: string, epoch: number, now: number, timeoutMs: number): boolean {
    return this.db.prepare("UPDATE lease SET expires_at = ?, renewed_at = ? WHERE id = 1 AND holder = ? AND epoch = ?").run(now + timeoutMs, now, holder, epoch).changes === 1;
  }

  release(holder: string, epoch: number): void {
    this.db.prepare("UPDATE lease SET expires_at = 0 WHERE id = 1 AND holder = ? AND epoch = ?").run(holder, epoch);
  }
}
