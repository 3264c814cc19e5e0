import { randomUUID } from "node:crypto";
import type pg from "pg";
import { inTransaction, openPool, type Deadlines } from "@ballast/common/postgres";
import { decideAcquire, decodeEvent, decodeLogged, encodeBody, encodeLogged } from "./codec.js";
import { SCHEMA } from "./postgresSchema.js";
import { LeaseLostError, type AcquireResult, type LeaseStore, type LogRecord, type Replay, type SchedulerStore } from "./schedulerStore.js";

type Row = Record<string, any>;
const SCHEMA_LOCK = 0x62616c6c; // "ball": serializes schema setup across schedulers

const leaseOf = (row: Row) => ({ holder: row.holder, address: row.address, epoch: Number(row.epoch), expiresAtMs: Number(row.expires_at), renewedAtMs: Number(row.renewed_at) });

/**
 * The networked backend: schedulers on several hosts share nothing but this
 * database. Lease expiry is judged by the database's clock (now() inside the
 * transaction) and every append checks the epoch in its own transaction.
 */
export class PostgresSchedulerStore implements SchedulerStore {
  readonly lease: LeaseStore;

  private constructor(
    private readonly pool: pg.Pool,
    readonly applicationId: string,
  ) {
    this.lease = new PostgresLease(pool);
  }

  /** Connects and sets up the schema; rejects when the database is unreachable (the caller retries). */
  static async open(url: string, onError: (err: Error) => void = () => undefined, deadlines?: Deadlines): Promise<PostgresSchedulerStore> {
    // Every call has a deadline: a partitioned database fails calls, it does not hang them.
    const pool = openPool(url, { onError, deadlines });
    try {
      await inTransaction(pool, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
        await client.query(SCHEMA);
      });
      const id = `app-${randomUUID().slice(0, 8)}`;
      await pool.query("INSERT INTO meta (key, value) VALUES ('application_id', $1) ON CONFLICT DO NOTHING", [id]);
      const stored = await pool.query("SELECT value FROM meta WHERE key = 'application_id'");
      return new PostgresSchedulerStore(pool, stored.rows[0].value);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  async append(records: LogRecord[], epoch: number): Promise<void> {
    if (records.length === 0) return;
    const events = records.flatMap((r) => r.events);
    const jobs = records.flatMap((r) => r.jobs);
    const { rows } = await this.pool.query(named("ballast_append", "SELECT ballast_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS outcome", [
      epoch,
      records.map((r) => r.seq),
      records.map((r) => r.now),
      records.map((r) => encodeLogged(r)),
      events.map((e) => e.jobId),
      events.map((e) => encodeBody(e)),
      jobs.map((j) => j.jobId),
      jobs.map((j) => j.submissionId),
      jobs.map((j) => j.traceparent),
      records.flatMap((r) => r.forgetJobs ?? []),
    ]));
    if (rows[0].outcome === "fenced") throw new LeaseLostError(`the lease moved past epoch ${epoch}`);
  }

  async loadForReplay(format: number): Promise<Replay> {
    const snap = (await this.pool.query("SELECT seq, state FROM snapshots WHERE format = $1 ORDER BY seq DESC LIMIT 1", [format])).rows[0];
    const after = snap ? Number(snap.seq) : 0;
    const inputs = (await this.pool.query("SELECT seq, now, body FROM inputs WHERE seq > $1 ORDER BY seq", [after])).rows;
    const last = (await this.pool.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM inputs")).rows[0];
    return {
      snapshot: snap && { seq: after, state: snap.state },
      inputs: inputs.map((r) => ({ seq: Number(r.seq), now: Number(r.now), ...decodeLogged(r.body) })),
      lastSeq: Number(last.seq),
    };
  }

  async saveSnapshot(seq: number, state: Uint8Array, format: number): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query("INSERT INTO snapshots (seq, state, format) VALUES ($1, $2, $3) ON CONFLICT (seq) DO UPDATE SET state = excluded.state, format = excluded.format", [seq, Buffer.from(state), format]);
      await client.query("DELETE FROM snapshots WHERE seq < (SELECT MIN(seq) FROM (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2) AS newest)");
      // Compaction: replay starts at the newest snapshot; its own input stays so the log's last seq stays known.
      await client.query("DELETE FROM inputs WHERE seq < $1", [seq]);
      await client.query("DELETE FROM events WHERE seq <= (SELECT value::bigint FROM meta WHERE key = 'published_seq')");
    });
  }

  async eventsAfter(seq: number, limit: number) {
    const { rows } = await this.pool.query(named("ballast_events_after", "SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", [seq, limit]));
    return rows.map((r) => ({ seq: Number(r.seq), event: decodeEvent(r.body) }));
  }

  async publishedSeq(): Promise<number> {
    const { rows } = await this.pool.query(named("ballast_published_seq", "SELECT value FROM meta WHERE key = 'published_seq'", []));
    return Number(rows[0]?.value ?? "0");
  }

  async markPublished(seq: number): Promise<void> {
    // History acknowledged these events: the outbox keeps only the unpublished ones (bigserial never
    // reuses a seq). One statement, so atomic and one round trip (a data-modifying WITH always runs).
    await this.pool.query(
      named(
        "ballast_mark_published",
        `WITH mark AS (INSERT INTO meta (key, value) VALUES ('published_seq', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE meta.value::bigint < excluded.value::bigint)
         DELETE FROM events WHERE seq <= $1::bigint`,
        [String(seq)],
      ),
    );
  }



  async nextJobNumber(): Promise<number> {
    const { rows } = await this.pool.query("INSERT INTO meta (key, value) VALUES ('job_counter', '1') ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value");
    return Number(rows[0].value);
  }

  async jobForSubmission(submissionId: string): Promise<string | undefined> {
    return (await this.pool.query("SELECT job_id FROM jobs WHERE submission_id = $1", [submissionId])).rows[0]?.job_id;
  }

  async traceparentOfJob(jobId: string): Promise<string | undefined> {
    return (await this.pool.query("SELECT traceparent FROM jobs WHERE job_id = $1", [jobId])).rows[0]?.traceparent || undefined;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PostgresLease implements LeaseStore {
  constructor(private readonly pool: pg.Pool) {}

  tryAcquire(holder: string, address: string, timeoutMs: number): Promise<AcquireResult> {
    // FOR UPDATE: two standbys racing for an expired lease serialize on the row.
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query("SELECT holder, address, epoch, expires_at, renewed_at, ballast_now_ms() AS now_ms FROM lease WHERE id = 1 FOR UPDATE");
      const decision = decideAcquire(leaseOf(rows[0]), holder, address, Number(rows[0].now_ms), timeoutMs);
      if (!decision.acquired) return decision;
      const { epoch, expiresAtMs, renewedAtMs } = decision.lease;
      await client.query("UPDATE lease SET holder = $1, address = $2, epoch = $3, expires_at = $4, renewed_at = $5 WHERE id = 1", [holder, address, epoch, expiresAtMs, renewedAtMs]);
      return decision;
    });
  }

  async renew(holder: string, epoch: number, timeoutMs: number): Promise<boolean> {
    const result = await this.pool.query("UPDATE lease SET expires_at = ballast_now_ms() + $3, renewed_at = ballast_now_ms() WHERE id = 1 AND holder = $1 AND epoch = $2", [holder, epoch, timeoutMs]);
    return result.rowCount === 1;
  }

  async release(holder: string, epoch: number): Promise<void> {
    await this.pool.query("UPDATE lease SET expires_at = 0 WHERE id = 1 AND holder = $1 AND epoch = $2", [holder, epoch]);
  }
}

/**
 * A named query, which pg prepares once per connection and then only binds:
 * for the statements every batch runs (append, the history outbox's reads and marks).
 */
function named(name: string, text: string, values: unknown[]): { name: string; text: string; values: unknown[] } {
  return { name, text, values };
}
