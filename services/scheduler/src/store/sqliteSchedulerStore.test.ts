import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HistoryEvent } from "../core/types.js";
import { decodeEventRow, encodeBody } from "./codec.js";
import { SqliteSchedulerStore } from "./sqliteSchedulerStore.js";

const event = (jobId: string): HistoryEvent => ({ type: "jobEnded", jobId, status: "cancelled" }) as unknown as HistoryEvent;
const record = (seq: number, events: HistoryEvent[]) => ({ seq, now: 1_000 + seq, input: { type: "cancelJob" as const, jobId: `job-${seq}`, reason: "test" }, events, jobs: [] });

describe("SQLite scheduler store: the outbox's rows", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-sqlite-store-"));
    dirs.push(dir);
    return dir;
  };
  const leadEpoch = async (store: SqliteSchedulerStore) => {
    const taken = await store.lease.tryAcquire("a", "a:1", 60_000);
    if (!taken.acquired) throw new Error("no lease");
    return taken.lease.epoch;
  };

  it("keeps one commit's events in one row, listed one by one with consecutive seqs", async () => {
    const dir = freshDir();
    const store = new SqliteSchedulerStore(dir);
    const epoch = await leadEpoch(store);
    await store.append([record(1, [event("a"), event("b")]), record(2, [event("c")])], epoch);
    await store.close();
    const db = new Database(join(dir, "scheduler.sqlite"), { readonly: true });
    const rows = db.prepare("SELECT seq, count, body FROM events").all() as Array<{ seq: number; count: number; body: Buffer }>;
    db.close();
    expect(rows.map((row) => [row.seq, row.count, decodeEventRow(row.body).map((e) => e.jobId)])).toEqual([[3, 3, ["a", "b", "c"]]]);
    const reopened = new SqliteSchedulerStore(dir);
    expect((await reopened.eventsAfter(1, 10)).map(({ seq, event }) => [seq, event.jobId])).toEqual([[2, "b"], [3, "c"]]);
    await reopened.close();
  });

  it("still lists the rows of one event each that an older version wrote, then the new ones after them", async () => {
    const dir = freshDir();
    new SqliteSchedulerStore(dir).close();
    // What the previous release left in the outbox: one event per row (count takes its default of 1).
    const db = new Database(join(dir, "scheduler.sqlite"));
    for (const jobId of ["old-1", "old-2"]) db.prepare("INSERT INTO events (job_id, body) VALUES (?, ?)").run(jobId, encodeBody(event(jobId)));
    db.close();
    const store = new SqliteSchedulerStore(dir);
    const epoch = await leadEpoch(store);
    await store.append([record(1, [event("new-1"), event("new-2")])], epoch);
    const other = new SqliteSchedulerStore(dir); // reads the table, not the writer's recent events
    expect((await other.eventsAfter(0, 10)).map(({ seq, event }) => [seq, event.jobId])).toEqual([[1, "old-1"], [2, "old-2"], [3, "new-1"], [4, "new-2"]]);
    await store.markPublished(3);
    expect((await other.eventsAfter(0, 10)).map(({ seq, event }) => [seq, event.jobId])).toEqual([[4, "new-2"]]);
    await Promise.all([store.close(), other.close()]);
  });
});
