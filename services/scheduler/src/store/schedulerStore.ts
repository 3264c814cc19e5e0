import { Packr } from "msgpackr";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { openDatabase, type SqliteDatabase } from "../../../../packages/common/src/sqlite.js";
import type { HistoryEvent, Input } from "../core/types.js";

/**
 * What the scheduler keeps durable: the inputs of its state machine (replayed
 * after a crash) and the outbox of history events. Behind an interface so a
 * networked backend (PostgreSQL) can replace SQLite.
 */
export interface SchedulerStore {
  readonly applicationId: string;
  /** Incremented on every start; fences messages from older incarnations. */
  readonly epoch: number;
  appendInput(input: Input, now: number): void;
  loadInputs(): Array<{ input: Input; now: number }>;
  appendEvent(event: HistoryEvent): number;
  eventsAfter(seq: number, limit: number): Array<{ seq: number; event: HistoryEvent }>;
  publishedSeq(): number;
  markPublished(seq: number): void;
  nextJobNumber(): number;
  close(): void;
}

const MIGRATIONS = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE inputs (seq INTEGER PRIMARY KEY AUTOINCREMENT, now INTEGER NOT NULL, body BLOB NOT NULL);
   CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, body BLOB NOT NULL);`,
];

// Plain arrays and objects round-trip; Uint8Array (collect results) stays binary.
const packr = new Packr({ useRecords: false });

export class SqliteSchedulerStore implements SchedulerStore {
  readonly applicationId: string;
  readonly epoch: number;
  private readonly db: SqliteDatabase;
  private readonly insertInput;
  private readonly insertEvent;
  private readonly selectEvents;

  constructor(dataDir: string) {
    this.db = openDatabase(join(dataDir, "scheduler.sqlite"), MIGRATIONS);
    // WAL with synchronous=NORMAL survives a process crash (our failure model)
    // while keeping one commit per input cheap enough for 5,000+ tasks/s.
    this.db.pragma("synchronous = NORMAL");
    this.applicationId = this.meta("application_id") ?? this.setMeta("application_id", `app-${randomUUID().slice(0, 8)}`);
    this.epoch = Number(this.meta("epoch") ?? "0") + 1;
    this.setMeta("epoch", String(this.epoch));
    this.insertInput = this.db.prepare("INSERT INTO inputs (now, body) VALUES (?, ?)");
    this.insertEvent = this.db.prepare("INSERT INTO events (job_id, body) VALUES (?, ?)");
    this.selectEvents = this.db.prepare("SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
  }

  appendInput(input: Input, now: number): void {
    this.insertInput.run(now, packr.pack(input));
  }

  loadInputs(): Array<{ input: Input; now: number }> {
    const rows = this.db.prepare("SELECT now, body FROM inputs ORDER BY seq").all() as Array<{ now: number; body: Buffer }>;
    return rows.map((r) => ({ now: r.now, input: packr.unpack(r.body) as Input }));
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

  close(): void {
    this.db.close();
  }

  private meta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  private setMeta(key: string, value: string): string {
    this.db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
    return value;
  }
}
