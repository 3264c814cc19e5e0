import { describe, expect, it } from "vitest";
import type { PublishedEvent as HistoryEvent } from "@ballast/common/domain/events";
import { HISTORY_BACKENDS, useStores } from "../testing/backends.js";
import { applicationEvents, jobEvents, shuffled, T0 } from "../testing/fixtures.js";
import type { HistoryStore } from "./store.js";

/** The history store contract: every backend passes the same tests. */

const APP = "app-1";

/** Everything the store shows about APP, to compare two stores. */
async function snapshot(store: HistoryStore) {
  return {
    application: await store.getApplication(APP),
    jobs: await store.listJobs(APP),
    stages: await store.listStages(APP, "job-1"),
    tasks: await store.listTasks(APP, "job-1"),
    executors: await store.listExecutors(APP),
    events: await store.listEvents(APP, { jobId: "", afterSeq: 0, limit: 1000 }),
  };
}

for (const backend of HISTORY_BACKENDS) {
describe.skipIf(!!backend.skip)(`history store contract: ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`, () => {
  const { fresh, reopen } = useStores(backend);

  it("projects a job's events into application, job, stage, task and executor summaries", async () => {
    const store = await fresh();
    const events = applicationEvents();
    expect(await store.publish(APP, events)).toEqual({ ackedSeq: 17, inserted: 17 });

    const { application, jobs, stages, tasks, executors } = await snapshot(store);
    expect(application).toEqual({ applicationId: APP, firstEventMs: T0, lastEventMs: T0 + 50, eventCount: 17, jobCount: 1, lastSeq: 17, deadLetterCount: 0 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ jobId: "job-1", name: "wordcount", status: "succeeded", submittedAtMs: T0 + 10, endedAtMs: T0 + 42, numStages: 2 });
    expect(jobs[0]!.stats).toMatchObject({ tasksLaunched: 4, taskAttemptsFailed: 1, shuffleBytesWritten: 1024 });
    expect(jobs[0]!.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(stages.map((s) => [s.stageId, s.attempt, s.status, s.numTasks, s.completedTasks])).toEqual([
      [0, 0, "succeeded", 2, 2],
      [1, 0, "succeeded", 1, 1],
    ]);
    expect(tasks.map((t) => [t.taskId, t.state, t.attempt, t.executorId, t.nodeId])).toEqual([
      ["t-0-0-0", "succeeded", 0, "exec-1", "node-1"],
      ["t-0-1-0", "failed", 0, "exec-2", "node-2"],
      ["t-0-1-1", "succeeded", 1, "exec-1", "node-1"],
      ["t-1-0-0", "succeeded", 0, "exec-1", "node-1"],
    ]);
    expect(tasks[1]!.error).toEqual({ message: "boom", stack: "at wordcount.ts:7", kind: "user_error" });
    expect(executors.map((e) => [e.executorId, e.alive, e.lostReason, e.slots])).toEqual([
      ["exec-1", true, "", 2],
      ["exec-2", false, "heartbeat timeout", 2],
    ]);
  });

  it("skips a resent batch: no duplicate events, projections unchanged", async () => {
    const store = await fresh();
    const events = applicationEvents();
    await store.publish(APP, events);
    const before = await snapshot(store);
    expect(await store.publish(APP, events)).toEqual({ ackedSeq: 17, inserted: 0 });
    expect(await store.publish(APP, events.slice(3, 6))).toEqual({ ackedSeq: 17, inserted: 0 });
    expect(await snapshot(store)).toEqual(before);
  });

  it("ends with the same projections whatever order batches arrive in", async () => {
    const inOrder = await fresh();
    const events = applicationEvents();
    await inOrder.publish(APP, events);
    const expected = await snapshot(inOrder);
    for (const seed of [1, 7, 42, 1234]) {
      const store = await fresh();
      // Overlapping, shuffled batches of three, as retries of an outbox could deliver them.
      const order = shuffled(events, seed);
      for (let i = 0; i < order.length; i += 2) await store.publish(APP, order.slice(i, i + 3));
      expect(await snapshot(store), `seed ${seed}`).toEqual(expected);
    }
  });

  it("a late task start does not undo its end; running tasks count on their executor", async () => {
    const store = await fresh();
    const [added1] = applicationEvents();
    const start: HistoryEvent = { seq: 5, timeMs: T0 + 5, jobId: "j", body: { type: "taskStarted", taskId: "t1", stageId: 0, stageAttempt: 0, partition: 0, attempt: 0, executorId: "exec-1", nodeId: "node-1" } };
    const end: HistoryEvent = { seq: 6, timeMs: T0 + 6, jobId: "j", body: { type: "taskEnded", taskId: "t1", stageId: 0, partition: 0, state: "succeeded", durationMs: 1, executorId: "exec-1" } };
    await store.publish(APP, [added1!, start]);
    expect((await store.listExecutors(APP))[0]!.runningTasks).toBe(1);
    expect((await store.getJob(APP, "j"))!.status).toBe("running");
    const other = await fresh();
    await other.publish(APP, [end]);
    await other.publish(APP, [start, added1!]);
    const [task] = await other.listTasks(APP, "j");
    expect(task).toMatchObject({ state: "succeeded", attempt: 0, nodeId: "node-1", durationMs: 1, startedAtMs: T0 + 5, endedAtMs: T0 + 6 });
    expect((await other.listExecutors(APP))[0]!.runningTasks).toBe(0);
  });

  it("pages events by seq, filters by job, and returns them as published", async () => {
    const store = await fresh();
    const events = applicationEvents();
    await store.publish(APP, events);
    expect(await store.listEvents(APP, { jobId: "", afterSeq: 0, limit: 1000 })).toEqual(events);
    const page = await store.listEvents(APP, { jobId: "", afterSeq: 5, limit: 3 });
    expect(page.map((e) => e.seq)).toEqual([6, 7, 8]);
    const jobOnly = await store.listEvents(APP, { jobId: "job-1", afterSeq: 0, limit: 1000 });
    expect(jobOnly.map((e) => e.seq)).toEqual(events.filter((e) => e.jobId === "job-1").map((e) => e.seq));
    expect(await store.listEvents("other", { jobId: "", afterSeq: 0, limit: 10 })).toEqual([]);
  });

  it("keeps applications apart and survives a restart", async () => {
    const first = await fresh();
    await first.publish(APP, applicationEvents());
    await first.publish("app-2", applicationEvents("job-9").slice(0, 4));
    await first.close();
    const reopened = await reopen(first);
    expect((await reopened.listApplications()).map((a) => [a.applicationId, a.eventCount, a.lastSeq])).toEqual([
      [APP, 17, 17],
      ["app-2", 4, 4],
    ]);
    expect(await reopened.getJob("app-2", "job-1")).toBeUndefined();
    expect((await reopened.getJob("app-2", "job-9"))!.status).toBe("running");
    expect(await reopened.publish(APP, applicationEvents())).toEqual({ ackedSeq: 17, inserted: 0 });
  });

  // Retention: ended jobs beyond the newest N or older than D go.
  /** Job `n` of the application: its events moved to their own seqs and n seconds later. */
  const jobN = (n: number, ended = true) =>
    jobEvents(`job-${n}`)
      .filter((event) => ended || event.body.type !== "jobEnded")
      .map((event, i) => {
        const body = "taskId" in event.body ? { ...event.body, taskId: `j${n}-${event.body.taskId}` } : event.body;
        return { ...event, body, seq: n * 100 + i, timeMs: event.timeMs + n * 1_000 } as typeof event;
      });
  const ids = async (store: HistoryStore) => (await store.listJobs(APP)).map((job) => job.jobId).sort();

  it("forgets ended jobs beyond the newest N or older than D, with their events, stages and tasks; running jobs stay", async () => {
    const store = await fresh();
    await store.publish(APP, [...jobN(1), ...jobN(2), ...jobN(3), ...jobN(4, false)]);
    const countBefore = (await store.getApplication(APP))!.eventCount;
    expect(await store.prune({ keepJobs: 2, keepForMs: 0 }, T0 + 10_000)).toBe(1);
    expect(await ids(store)).toEqual(["job-2", "job-3", "job-4"]);
    expect(await store.listEvents(APP, { jobId: "job-1", afterSeq: 0, limit: 1000 })).toEqual([]);
    expect(await store.listTasks(APP, "job-1")).toEqual([]);
    expect(await store.listStages(APP, "job-1")).toEqual([]);
    expect((await store.listTasks(APP, "job-2")).length).toBeGreaterThan(0);
    expect((await store.getApplication(APP))!.eventCount).toBe(countBefore - jobN(1).filter((e) => e.jobId === "job-1").length);

    // job-2 ended at T0 + 2,042 ms, job-3 at T0 + 3,042: a cut-off between them.
    expect(await store.prune({ keepJobs: 0, keepForMs: 1_000 }, T0 + 3_542)).toBe(1);
    expect(await ids(store)).toEqual(["job-3", "job-4"]);
    expect(await store.prune({ keepJobs: 0, keepForMs: 0 }, T0 + 1e9)).toBe(0); // no bound: nothing goes
  });

  // Login tickets: each logs in once, across a restart too.
  const live = async (store: HistoryStore, ids: string[], nowMs: number) =>
    Promise.all(ids.map(async (id) => [id, await store.claimTicket(id, Number.MAX_SAFE_INTEGER, nowMs, 1e6)]));

  it("accepts a login ticket once, remembers it across a reopen until it expires, then forgets it", async () => {
    const store = await fresh();
    expect(await store.claimTicket("a", 10_000, 1_000, 100)).toBe("first use");
    expect(await store.claimTicket("a", 10_000, 2_000, 100)).toBe("used before");
    expect(await store.claimTicket("b", 10_000, 2_000, 100)).toBe("first use");
    const restarted = await reopen(store);
    expect(await restarted.claimTicket("a", 10_000, 3_000, 100)).toBe("used before");
    // Expired (verification refuses it by then anyway), its record goes: the table holds only "c".
    expect(await restarted.claimTicket("c", 20_000, 10_000, 100)).toBe("first use");
    expect(await live(restarted, ["a", "b", "c"], 10_000)).toEqual([["a", "first use"], ["b", "first use"], ["c", "used before"]]);
  });

  it("stays bounded: full of live tickets it refuses new ones instead of forgetting a replayable one", async () => {
    const store = await fresh();
    expect(await store.claimTicket("a", 5_000, 1_000, 2)).toBe("first use");
    expect(await store.claimTicket("b", 50_000, 1_000, 2)).toBe("first use");
    expect(await store.claimTicket("c", 50_000, 2_000, 2)).toBe("full");
    expect(await store.claimTicket("a", 5_000, 2_000, 2)).toBe("used before");
    // Once "a" expires there is room again.
    expect(await store.claimTicket("c", 50_000, 5_000, 2)).toBe("first use");
    expect(await store.claimTicket("b", 50_000, 5_000, 2)).toBe("used before");
  });
});
}
