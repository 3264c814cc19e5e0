import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import type { HistoryEvent, Input } from "../core/types.js";
import { PostgresSchedulerStore } from "./postgresSchedulerStore.js";
import { LeaseLostError, type LogRecord, type SchedulerStore } from "./schedulerStore.js";
import { SqliteSchedulerStore } from "./sqliteSchedulerStore.js";

/** A place to keep one scheduler state; open() gives another store on it (a second scheduler). */
interface Backend {
  open(): Promise<SchedulerStore>;
  destroy(): Promise<void>;
}

const sqlite = async (): Promise<Backend> => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-store-"));
  return { open: async () => new SqliteSchedulerStore(dir), destroy: async () => rmSync(dir, { recursive: true, force: true }) };
};

const postgres = await findTestPostgres();
const postgresBackend = async (): Promise<Backend> => {
  const db = await createTestDatabase(postgres.url!);
  return { open: () => PostgresSchedulerStore.open(db.url), destroy: () => db.drop() };
};

const BACKENDS: Array<{ name: string; make: () => Promise<Backend>; skip?: string }> = [
  { name: "SQLite", make: sqlite },
  { name: "PostgreSQL", make: postgresBackend, skip: postgres.reason },
];
if (postgres.reason) console.warn(`scheduler store contract: PostgreSQL half SKIPPED: ${postgres.reason}`);

const input = (jobId: string): Input => ({ type: "cancelJob", jobId, reason: "contract" });
const event = (jobId: string): HistoryEvent => ({ type: "jobEnded", jobId, status: "cancelled" }) as unknown as HistoryEvent;
const record = (seq: number, extra: Partial<LogRecord> = {}): LogRecord => ({ seq, now: 1_000 + seq, input: input(`job-${seq}`), events: [], jobs: [], ...extra });

for (const backend of BACKENDS) {
  const suite = backend.skip ? describe.skip : describe;
  suite(`scheduler store contract: ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`, () => {
    const opened: SchedulerStore[] = [];
    let current: Backend | undefined;
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
      await current?.destroy();
      current = undefined;
    });
    const fresh = async () => {
      current = await backend.make();
      return open();
    };
    const open = async () => {
      const store = await current!.open();
      opened.push(store);
      return store;
    };
    const lead = async (store: SchedulerStore, holder: string, timeoutMs = 60_000) => {
      const taken = await store.lease.tryAcquire(holder, `${holder}:1`, timeoutMs);
      if (!taken.acquired) throw new Error(`${holder} did not get the lease`);
      return taken;
    };

    it("appends batches in order, with their events and job records, and replays them exactly", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      await store.append([record(1, { events: [event("j1"), event("j2")], jobs: [{ jobId: "j1", submissionId: "sub-1", traceparent: "tp-1" }] }), record(2)], lease.epoch);
      await store.append([record(3, { events: [event("j3")] })], lease.epoch);
      const again = await open();
      const replay = await again.loadForReplay(1);
      expect(replay.snapshot).toBeUndefined();
      expect(replay.inputs).toEqual([1, 2, 3].map((seq) => ({ seq, now: 1_000 + seq, input: input(`job-${seq}`) })));
      expect(replay.lastSeq).toBe(3);
      expect((await again.eventsAfter(0, 10)).map((e) => e.event.jobId)).toEqual(["j1", "j2", "j3"]);
      expect(await again.jobForSubmission("sub-1")).toBe("j1");
      expect(await again.traceparentOfJob("j1")).toBe("tp-1");
      expect(await again.jobForSubmission("other")).toBeUndefined();
      expect(again.applicationId).toBe(store.applicationId);
    });

    it("forgets an evicted job's record with the input that evicted it, so the table holds only held jobs", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      const jobs = ["j1", "j2", "j3"].map((jobId) => ({ jobId, submissionId: `sub-${jobId}`, traceparent: `tp-${jobId}` }));
      await store.append([record(1, { jobs: jobs.slice(0, 2) }), record(2, { jobs: [jobs[2]!] })], lease.epoch);
      // One batch evicts j1; the next evicts j3 together with a job submitted and evicted in that same batch.
      await store.append([record(3, { forgetJobs: ["j1"] })], lease.epoch);
      await store.append([record(4, { jobs: [{ jobId: "j4", submissionId: "sub-j4", traceparent: "tp-j4" }] }), record(5, { forgetJobs: ["j3", "j4"] })], lease.epoch);
      const again = await open();
      for (const gone of ["j1", "j3", "j4"]) {
        expect(await again.jobForSubmission(`sub-${gone}`), gone).toBeUndefined();
        expect(await again.traceparentOfJob(gone), gone).toBeUndefined();
      }
      expect(await again.jobForSubmission("sub-j2")).toBe("j2");
      expect(await again.traceparentOfJob("j2")).toBe("tp-j2");
      // A deposed leader's append forgets nothing.
      await store.lease.release("a", lease.epoch);
      await lead(again, "b");
      await expect(store.append([record(6, { forgetJobs: ["j2"] })], lease.epoch)).rejects.toThrow(LeaseLostError);
      expect(await again.jobForSubmission("sub-j2")).toBe("j2");
    });

    it("keeps a rejected input marked as such, so replay can skip it", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      await store.append([record(1), record(2, { rejected: "the core threw: boom" }), record(3)], lease.epoch);
      const replay = await (await open()).loadForReplay(1);
      expect(replay.inputs.map((i) => [i.seq, i.input, i.rejected])).toEqual([
        [1, input("job-1"), undefined],
        [2, input("job-2"), "the core threw: boom"],
        [3, input("job-3"), undefined],
      ]);
    });

    it("makes a retried batch that did commit a no-op", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      const batch = [record(1, { events: [event("j1")] })];
      await store.append(batch, lease.epoch);
      await store.append(batch, lease.epoch);
      expect((await store.loadForReplay(1)).inputs).toHaveLength(1);
      expect(await store.eventsAfter(0, 10)).toHaveLength(1);
    });

    it("fences the log: a deposed leader's append fails and leaves nothing", async () => {
      const store = await fresh();
      const old = await lead(store, "old", 0); // expires at once
      const standby = await open();
      const taken = await lead(standby, "new");
      expect(taken.lease.epoch).toBe(old.lease.epoch + 1);
      expect(taken.previous?.holder).toBe("old");
      await expect(store.append([record(1, { events: [event("j1")] })], old.lease.epoch)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await standby.loadForReplay(1)).lastSeq).toBe(0);
      expect(await standby.eventsAfter(0, 10)).toEqual([]);
      expect(await store.lease.renew("old", old.lease.epoch, 60_000)).toBe(false);
      await standby.append([record(1)], taken.lease.epoch);
    });

    it("judges the lease by its own clock: a live lease is kept, ours is renewed, a released one is free", async () => {
      const store = await fresh();
      const first = await lead(store, "a");
      expect(first.previous).toBeUndefined();
      const other = await open();
      const refused = await other.lease.tryAcquire("b", "b:1", 60_000);
      expect(refused).toMatchObject({ acquired: false, holder: { holder: "a", address: "a:1", epoch: first.lease.epoch } });
      expect((await lead(store, "a")).lease.epoch).toBe(first.lease.epoch);
      expect(await store.lease.renew("a", first.lease.epoch, 60_000)).toBe(true);
      await store.lease.release("a", first.lease.epoch);
      const next = await lead(other, "b");
      expect(next.lease.epoch).toBe(first.lease.epoch + 1);
      expect(next.databaseNowMs - next.previous!.renewedAtMs).toBeGreaterThanOrEqual(0);
    });

    it("keeps the two newest snapshots of a format and replays the inputs after one", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      await store.append([1, 2, 3, 4].map((seq) => record(seq)), lease.epoch);
      for (const seq of [1, 2, 3]) await store.saveSnapshot(seq, new Uint8Array([seq, 7]), 5);
      const replay = await store.loadForReplay(5);
      expect(replay.snapshot?.seq).toBe(3);
      expect([...replay.snapshot!.state]).toEqual([3, 7]);
      expect(replay.inputs.map((i) => i.seq)).toEqual([4]);
      expect(replay.lastSeq).toBe(4);
      expect((await store.loadForReplay(6)).snapshot).toBeUndefined();
    });

    it("compacts the input log and the published events behind each snapshot", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      const withEvent = (seq: number) => record(seq, { events: [{ type: "jobSubmitted", jobId: `job-${seq}`, timeMs: seq, name: "n", numStages: 1 }] });
      await store.append([1, 2, 3, 4, 5].map(withEvent), lease.epoch);
      await store.markPublished((await store.eventsAfter(0, 100))[2]!.seq);
      await store.saveSnapshot(4, new Uint8Array([4]), 5);
      // A compacted log only replays from the snapshot: the older inputs are gone, the snapshot's own stays.
      expect((await store.loadForReplay(6)).inputs.map((i) => i.seq)).toEqual([4, 5]);
      const replay = await store.loadForReplay(5);
      expect([replay.snapshot?.seq, replay.inputs.map((i) => i.seq), replay.lastSeq]).toEqual([4, [5], 5]);
      const unpublished = await store.eventsAfter(0, 100);
      expect(unpublished.map((e) => e.event.jobId)).toEqual(["job-4", "job-5"]);
      // Appends go on after a compaction; a retried batch that did commit is still a no-op.
      await store.append([record(6)], lease.epoch);
      await store.append([record(6)], lease.epoch);
      expect((await store.loadForReplay(5)).inputs.map((i) => i.seq)).toEqual([5, 6]);
    });

    it("deletes the events history acknowledged, so the outbox stays as small as the backlog", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      const withEvent = (seq: number) => record(seq, { events: [event(`job-${seq}`)] });
      await store.append([1, 2, 3].map(withEvent), lease.epoch);
      const [, second] = await store.eventsAfter(0, 100);
      await store.markPublished(second!.seq);
      // Read from the start, not from the mark: the rows themselves are gone.
      expect((await store.eventsAfter(0, 100)).map((e) => e.event.jobId)).toEqual(["job-3"]);
      await store.append([4].map(withEvent), lease.epoch);
      const rest = await store.eventsAfter(0, 100);
      expect(rest.map((e) => e.event.jobId)).toEqual(["job-3", "job-4"]);
      expect(rest[0]!.seq).toBeGreaterThan(second!.seq);
      await store.markPublished(rest[1]!.seq);
      expect(await store.eventsAfter(0, 100)).toEqual([]);
      expect(await store.publishedSeq()).toBe(rest[1]!.seq);
    });

    it("lists the writer the same unpublished events, batch by batch, as another store on the log", async () => {
      const store = await fresh();
      const { lease } = await lead(store, "a");
      await store.append([1, 2, 3, 4].map((seq) => record(seq, { events: [event(`job-${seq}`), event(`job-${seq}-again`)] })), lease.epoch);
      await store.append([record(5, { events: [event("job-5")] })], lease.epoch);
      const other = await open();
      let published = 0;
      for (let batches = 0; ; batches++) {
        const [mine, theirs] = await Promise.all([store.eventsAfter(published, 3), other.eventsAfter(published, 3)]);
        expect(mine).toEqual(theirs);
        if (mine.length === 0) return expect(batches).toBe(3);
        published = mine.at(-1)!.seq;
        await store.markPublished(published);
      }
    });

    it("counts job numbers atomically and only moves the published mark forward", async () => {
      const store = await fresh();
      const other = await open();
      const numbers = await Promise.all([...Array(10)].map((_, i) => (i % 2 ? store : other).nextJobNumber()));
      expect(new Set(numbers).size).toBe(10);
      expect(Math.max(...numbers)).toBe(10);
      expect(await store.publishedSeq()).toBe(0);
      await store.markPublished(7);
      await store.markPublished(3);
      expect(await other.publishedSeq()).toBe(7);
    });
  });
}
