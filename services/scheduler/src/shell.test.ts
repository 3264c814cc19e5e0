import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "@ballast/common/logging";
import type { Plan } from "@ballast/common/plan";
import type { Input } from "./core/types.js";
import { STATE_FORMAT } from "./core/index.js";
import { RejectedInputError, SchedulerShell, type ShellEffects } from "./shell.js";
import { SqliteSchedulerStore } from "./store/sqliteSchedulerStore.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const plan = (tasks: number): Plan => ({
  jobName: "many",
  datasets: [{ id: 0, op: "range", parentIds: [], numPartitions: tasks, wide: false, callSite: "t", uri: "" }],
  shuffles: [],
  finalDatasetId: 0,
  action: "count",
  outputUri: "",
  args: [],
  inputs: [],
  graphHash: "h",
});

async function acquired(store: SqliteSchedulerStore, holder: string, timeoutMs = 60_000) {
  const taken = await store.lease.tryAcquire(holder, holder, timeoutMs);
  if (!taken.acquired) throw new Error("lease not acquired");
  return taken.lease;
}

const noEffects = (): ShellEffects => ({ removeShuffles() {}, eventsAppended() {}, probeShuffleService() {}, migrateShuffle() {}, leaseLost() {} });

/** A shell whose executor channel answers every launch (optionally only some) with success, in-process. */
async function shellOn(dir: string, answer: (taskId: string) => boolean) {
  const store = new SqliteSchedulerStore(dir);
  const epoch = (await acquired(store, "test")).epoch;
  const shell = new SchedulerShell(store, createLogger("test"), noEffects(), epoch);
  const queue: Input[] = [];
  const channel = {
    launch: (task: { taskId: string }) => answer(task.taskId) && queue.push({ type: "taskUpdate", executorId: "e1", taskId: task.taskId, state: "succeeded", count: 1 }),
    kill() {},
    close() {},
    shutdown() {},
  };
  shell.attachExecutor("e1", channel as never);
  // Launches leave once their input is durable, so drain until nothing more comes.
  const drain = async () => {
    for (await shell.settled(); queue.length > 0; await shell.settled()) while (queue.length > 0) shell.dispatch(queue.shift()!, 1_000);
  };
  return { store, shell, drain };
}

/** A fresh directory whose shell ran a 3-task job to the end, at time 1,000. */
async function withThreeTaskJobDone() {
  const dir = mkdtempSync(join(tmpdir(), "ballast-shell-"));
  dirs.push(dir);
  const first = await shellOn(dir, () => true);
  first.shell.dispatch({ type: "executorRegistered", executor: { executorId: "e1", nodeId: "n1", host: "h", slots: 4, shuffleAddress: "h:1" } }, 1_000);
  first.shell.dispatch({ type: "jobSubmitted", jobId: "job-1", plan: plan(3), bundleDigest: "0".repeat(64), conf: {}, traceparent: "" }, 1_000);
  await first.drain();
  return { dir, first };
}

describe("scheduler shell persistence", () => {
  it("recovers the same state from a snapshot plus the log after it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-shell-"));
    dirs.push(dir);
    // 6,000 tasks: well past the snapshot interval; stop answering near the end so the job is mid-flight.
    let answered = 0;
    const first = await shellOn(dir, () => ++answered < 5_990);
    first.shell.dispatch({ type: "executorRegistered", executor: { executorId: "e1", nodeId: "n1", host: "h", slots: 4, shuffleAddress: "h:1" } }, 1_000);
    first.shell.dispatch({ type: "jobSubmitted", jobId: "job-1", plan: plan(6_000), bundleDigest: "0".repeat(64), conf: {}, traceparent: "" }, 1_000);
    await first.drain();
    const before = { job: first.shell.job("job-1"), executors: first.shell.executors() };
    expect(before.job!.status).toBe("running");
    expect(before.job!.stages[0]!.completedTasks).toBeGreaterThan(5_000);
    first.shell.close();
    await first.store.close();

    const { snapshot, inputs } = await new SqliteSchedulerStore(dir).loadForReplay(STATE_FORMAT);
    expect(snapshot?.seq).toBeGreaterThan(0);
    expect(inputs.length).toBeLessThan(6_000);

    const second = await shellOn(dir, () => true);
    await second.shell.recover();
    expect({ job: second.shell.job("job-1"), executors: second.shell.executors() }).toEqual(before);
    second.shell.close();
    await second.store.close();

    // The log is compacted behind the snapshot; a snapshot of another state format is ignored.
    const otherFormat = await new SqliteSchedulerStore(dir).loadForReplay(STATE_FORMAT + 1);
    expect(otherFormat.snapshot).toBeUndefined();
    expect(otherFormat.inputs[0]!.seq).toBe(snapshot!.seq);
  });

  it("snapshots a quiet log by time too, so its rows stay bounded between bursts", async () => {
    const { dir, first } = await withThreeTaskJobDone();
    const logged = (await first.store.loadForReplay(STATE_FORMAT)).inputs.length;
    expect(logged).toBeGreaterThan(3);
    expect((await first.store.loadForReplay(STATE_FORMAT)).snapshot).toBeUndefined();
    // Far fewer inputs than the count trigger, but 10 s later: this one is snapshotted after.
    first.shell.dispatch({ type: "heartbeat", executorId: "e1", runningTaskIds: [] }, 11_000);
    await first.shell.settled();
    const before = { job: first.shell.job("job-1"), executors: first.shell.executors() };
    const replay = await first.store.loadForReplay(STATE_FORMAT);
    expect(replay.snapshot?.seq).toBe(replay.lastSeq);
    expect(replay.inputs).toEqual([]);
    // Compacted: only the snapshot's own input is left in the log.
    expect((await first.store.loadForReplay(STATE_FORMAT + 1)).inputs.map((i) => i.seq)).toEqual([replay.lastSeq]);
    first.shell.close();
    await first.store.close();

    const second = await shellOn(dir, () => true);
    await second.shell.recover();
    expect({ job: second.shell.job("job-1"), executors: second.shell.executors() }).toEqual(before);
    second.shell.close();
    await second.store.close();
  });

  it("rejects an input the core throws on: the caller gets the error, the state is as before, replay skips it", async () => {
    const { dir, first } = await withThreeTaskJobDone();
    const before = { job: first.shell.job("job-1"), executors: first.shell.executors() };
    // A dataset without parentIds: no edge would send it, but the core must not be poisoned by it either.
    const poison = { ...plan(1), datasets: [{ ...plan(1).datasets[0]!, parentIds: undefined as never }] };
    const dispatchPoison = () => first.shell.dispatch({ type: "jobSubmitted", jobId: "job-2", plan: poison, bundleDigest: "0".repeat(64), conf: {}, traceparent: "" }, 1_000);
    expect(dispatchPoison).toThrow(RejectedInputError);
    expect(dispatchPoison).toThrow(/could not apply this jobSubmitted/);
    expect({ job: first.shell.job("job-1"), executors: first.shell.executors() }).toEqual(before);
    expect(first.shell.job("job-2")).toBeUndefined();
    await first.shell.settled();
    first.shell.close();
    await first.store.close();

    const { inputs, lastSeq } = await new SqliteSchedulerStore(dir).loadForReplay(STATE_FORMAT);
    expect(inputs.filter((i) => i.rejected).map((i) => i.input.type)).toEqual(["jobSubmitted", "jobSubmitted"]);
    // As an older version logged it: the same input without the mark. Replay must skip it too.
    const old = new SqliteSchedulerStore(dir);
    const poisonInput = { type: "jobSubmitted" as const, jobId: "job-9", plan: poison, bundleDigest: "0".repeat(64), conf: {}, traceparent: "" };
    await old.append([{ seq: lastSeq + 1, now: 1_500, input: poisonInput, events: [], jobs: [] }], (await acquired(old, "test")).epoch);
    await old.close();

    const second = await shellOn(dir, () => true);
    await second.shell.recover();
    expect({ job: second.shell.job("job-1"), executors: second.shell.executors() }).toEqual(before);
    expect(second.shell.job("job-9")).toBeUndefined();
    second.shell.dispatch({ type: "jobSubmitted", jobId: "job-3", plan: plan(2), bundleDigest: "0".repeat(64), conf: {}, traceparent: "" }, 2_000);
    await second.drain();
    expect(second.shell.job("job-3")!.status).toBe("succeeded");
    second.shell.close();
    await second.store.close();
  });

  it("refuses to log inputs once another scheduler holds the lease", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-shell-"));
    dirs.push(dir);
    let lost = "";
    const store = new SqliteSchedulerStore(dir);
    // A lease that expires at once: the next holder takes it.
    const epoch = (await acquired(store, "old", 0)).epoch;
    const shell = new SchedulerShell(store, createLogger("test"), { ...noEffects(), leaseLost: (reason) => (lost = reason) }, epoch);
    expect((await acquired(store, "new")).epoch).toBe(epoch + 1);
    shell.dispatch({ type: "cancelJob", jobId: "nope", reason: "x" });
    await shell.settled();
    expect(lost).toMatch(/lease moved past epoch/);
    await store.close();
  });
});
