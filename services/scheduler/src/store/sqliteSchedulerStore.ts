import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { openDatabase, statementCache, type SqliteDatabase } from "@ballast/common/sqlite";
import { decideAcquire, decodeEventRow, decodeLogged, encodeEventRow, encodeLogged } from "./codec.js";
import { RecentEvents } from "./recentEvents.js";
import type { HistoryEvent } from "../core/types.js";
import { LeaseLostError, type AcquireResult, type LeaseRecord, type LeaseStore, type LogRecord, type Replay, type SchedulerStore } from "./schedulerStore.js";

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
  // An events row holds a commit's events (seq: the last one's; count: how many): one row per commit, not per event.
  `ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;`,
];

/**
 * The embedded default: one SQLite file in the data directory, shared by the
 * schedulers of one host. better-sqlite3 is synchronous; the async interface
 * costs nothing here. Its "database clock" is this host's, which is every
 * scheduler's that can open the file.
 */
export class SqliteSchedulerStore implements SchedulerStore {
  readonly applicationId: string;
  readonly lease: LeaseStore;
  private readonly db: SqliteDatabase;
  /** Statements prepared once (the outbox reads and marks published_seq for every batch). */
  private readonly sql: ReturnType<typeof statementCache>;
  /** Returns the events it wrote with their seqs. */
  private readonly appendInTransaction: (records: LogRecord[], epoch: number) => Array<{ seq: number; event: HistoryEvent }>;
  private readonly recentEvents = new RecentEvents();
  private readonly markPublishedInTransaction: (seq: number) => void;
  private readonly selectEvents;

  constructor(dataDir: string) {
    this.db = openDatabase(join(dataDir, "scheduler.sqlite"), MIGRATIONS);
    this.sql = statementCache(this.db);
    // WAL with synchronous=NORMAL survives a process crash (our failure model)
    // while keeping one commit per batch cheap.
    this.db.pragma("synchronous = NORMAL");
    this.applicationId = this.meta("application_id") ?? this.initMeta("application_id", `app-${randomUUID().slice(0, 8)}`);
    const epochNow = this.db.prepare("SELECT epoch FROM lease WHERE id = 1").pluck();
    const lastSeq = this.db.prepare("SELECT COALESCE(MAX(seq), 0) FROM inputs").pluck();
    const insertInput = this.db.prepare("INSERT INTO inputs (seq, now, body) VALUES (?, ?, ?)");
    // AUTOINCREMENT's high-water mark: the last event seq ever written (published rows are deleted, seqs never reused).
    const lastEventSeq = this.db.prepare("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events'").pluck();
    const insertEvents = this.db.prepare("INSERT INTO events (seq, job_id, count, body) VALUES (?, ?, ?, ?)");
    const insertJob = this.db.prepare("INSERT OR IGNORE INTO jobs (job_id, submission_id, traceparent) VALUES (?, ?, ?)");
    const deleteJob = this.db.prepare("DELETE FROM jobs WHERE job_id = ?");
    this.appendInTransaction = this.db.transaction((records: LogRecord[], epoch: number) => {
      // The epoch check makes the log itself the fence: a deposed leader cannot append.
      if (epochNow.get() !== epoch) throw new LeaseLostError(`the lease moved past epoch ${epoch}`);
      if ((lastSeq.get() as number) >= records[0]!.seq) return []; // a retried batch that did commit
      const events: HistoryEvent[] = [];
      for (const r of records) {
        insertInput.run(r.seq, r.now, encodeLogged(r));
        for (const event of r.events) events.push(event);
        for (const job of r.jobs) insertJob.run(job.jobId, job.submissionId || null, job.traceparent);
        for (const jobId of r.forgetJobs ?? []) deleteJob.run(jobId);
      }
      if (events.length === 0) return [];
      const first = (lastEventSeq.get() as number) + 1;
      insertEvents.run(first + events.length - 1, sharedJobId(events), events.length, encodeEventRow(events));
      return events.map((event, index) => ({ seq: first + index, event }));
    });
    const movePublished = this.db.prepare("INSERT INTO meta (key, value) VALUES ('published_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)");
    const deletePublished = this.db.prepare("DELETE FROM events WHERE seq <= ?");
    // History acknowledged these events: the outbox holds only the unpublished ones (AUTOINCREMENT never reuses a seq).
    this.markPublishedInTransaction = this.db.transaction((seq: number) => {
      movePublished.run(String(seq));
      deletePublished.run(seq);
    });
    this.selectEvents = this.db.prepare("SELECT seq, count, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    this.lease = new SqliteLease(this.db, this.sql);
  }

  async append(records: LogRecord[], epoch: number): Promise<void> {
    if (records.length > 0) this.recentEvents.add(this.appendInTransaction(records, epoch));
  }

  async loadForReplay(format: number): Promise<Replay> {
    const snap = this.sql("SELECT seq, state FROM snapshots WHERE format = ? ORDER BY seq DESC LIMIT 1").get(format) as { seq: number; state: Buffer } | undefined;
    const rows = this.sql("SELECT seq, now, body FROM inputs WHERE seq > ? ORDER BY seq").all(snap?.seq ?? 0) as Array<{ seq: number; now: number; body: Buffer }>;
    const lastSeq = this.sql("SELECT COALESCE(MAX(seq), 0) FROM inputs").pluck().get() as number;
    return { snapshot: snap, inputs: rows.map((r) => ({ seq: r.seq, now: r.now, ...decodeLogged(r.body) })), lastSeq };
  }

  async saveSnapshot(seq: number, state: Uint8Array, format: number): Promise<void> {
    this.db.transaction(() => {
      this.sql("INSERT OR REPLACE INTO snapshots (seq, state, format) VALUES (?, ?, ?)").run(seq, state, format);
      this.sql("DELETE FROM snapshots WHERE seq < (SELECT MIN(seq) FROM (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2))").run();
      // Compaction: replay starts at the newest snapshot; its own input stays so the log's last seq stays known.
      this.sql("DELETE FROM inputs WHERE seq < ?").run(seq);
      this.sql("DELETE FROM events WHERE seq <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'published_seq')").run();
    })();
  }

  async eventsAfter(seq: number, limit: number) {
    const recent = this.recentEvents.after(seq, limit);
    if (recent) return recent;
    // A row history acknowledged only in part stays: its published events are skipped as if deleted.
    const after = Math.max(seq, await this.publishedSeq());
    // Every row holds at least one event after `after`, so `limit` rows hold enough.
    const rows = this.selectEvents.all(after, limit) as Array<{ seq: number; count: number; body: Buffer }>;
    const events: Array<{ seq: number; event: HistoryEvent }> = [];
    for (const row of rows) {
      const first = row.seq - row.count + 1;
      decodeEventRow(row.body).forEach((event, index) => {
        if (first + index > after && events.length < limit) events.push({ seq: first + index, event });
      });
    }
    return events;
  }

  async publishedSeq(): Promise<number> {
    return Number(this.meta("published_seq") ?? "0");
  }

  async markPublished(seq: number): Promise<void> {
    this.markPublishedInTransaction(seq);
    this.recentEvents.published(seq);
  }

  async nextJobNumber(): Promise<number> {
    const row = this.sql("INSERT INTO meta (key, value) VALUES ('job_counter', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value").get() as { value: string };
    return Number(row.value);
  }

  async jobForSubmission(submissionId: string): Promise<string | undefined> {
    return (this.sql("SELECT job_id FROM jobs WHERE submission_id = ?").get(submissionId) as { job_id: string } | undefined)?.job_id;
  }

  async traceparentOfJob(jobId: string): Promise<string | undefined> {
    return (this.sql("SELECT traceparent FROM jobs WHERE job_id = ?").get(jobId) as { traceparent: string } | undefined)?.traceparent || undefined;
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private meta(key: string): string | undefined {
    return (this.sql("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  /** Sets a value only if absent (two schedulers may start at once); returns the stored value. */
  private initMeta(key: string, value: string): string {
    this.sql("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)").run(key, value);
    return this.meta(key)!;
  }
}

/** The job all of a row's events belong to, or "" (the column is informational: nothing selects by it). */
function sharedJobId(events: HistoryEvent[]): string {
  const jobId = events[0]!.jobId;
  return events.every((event) => event.jobId === jobId) ? jobId : "";
}

class SqliteLease implements LeaseStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly sql: ReturnType<typeof statementCache>,
  ) {}

  private current(): LeaseRecord | undefined {
    const row = this.sql("SELECT holder, address, epoch, expires_at, renewed_at FROM lease WHERE id = 1").get() as
      | { holder: string; address: string; epoch: number; expires_at: number; renewed_at: number }
      | undefined;
    return row && { holder: row.holder, address: row.address, epoch: row.epoch, expiresAtMs: row.expires_at, renewedAtMs: row.renewed_at };
  }

  async tryAcquire(holder: string, address: string, timeoutMs: number): Promise<AcquireResult> {
    // IMMEDIATE: two standbys racing for an expired lease serialize here.
    return this.db.transaction(() => {
      const decision = decideAcquire(this.current(), holder, address, Date.now(), timeoutMs);
      if (!decision.acquired) return decision;
      const { epoch, expiresAtMs, renewedAtMs } = decision.lease;
      this
        .sql("INSERT INTO lease (id, holder, address, epoch, expires_at, renewed_at) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, address = excluded.address, epoch = excluded.epoch, expires_at = excluded.expires_at, renewed_at = excluded.renewed_at")
        .run(holder, address, epoch, expiresAtMs, renewedAtMs);
      return decision;
    }).immediate();
  }

  async renew(holder: string, epoch: number, timeoutMs: number): Promise<boolean> {
    const now = Date.now();
    return this.sql("UPDATE lease SET expires_at = ?, renewed_at = ? WHERE id = 1 AND holder = ? AND epoch = ?").run(now + timeoutMs, now, holder, epoch).changes === 1;
  }

  async release(holder: string, epoch: number): Promise<void> {
    this.sql("UPDATE lease SET expires_at = 0 WHERE id = 1 AND holder = ? AND epoch = ?").run(holder, epoch);
  }
}
