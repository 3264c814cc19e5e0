import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { JobStatus, TaskState } from "@ballast/gen/common";
import { HistoryServiceClient } from "@ballast/gen/history";
import { allEvents, allTasks } from "@ballast/clients/history";
import { mintTimedToken } from "@ballast/common/auth";
import { call } from "@ballast/common/grpc";
import { eventToWire } from "@ballast/common/wire/events";
import { applicationEvents } from "./testing/fixtures.js";
import { HISTORY_MAIN as MAIN, killHard, startHistoryProcess, type RunningHistoryProcess } from "./testing/process.js";
import { testToken, userHeaders } from "./testing/tokens.js";

const APP = "app-e2e";

const children: ChildProcess[] = [];
const dataDir = mkdtempSync(join(tmpdir(), "history-e2e-"));

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

async function startHistory(): Promise<RunningHistoryProcess> {
  const running = await startHistoryProcess(dataDir);
  children.push(running.child);
  return running;
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers: userHeaders() });
  return { status: response.status, body: await response.json() };
}

/** The gRPC status code a call fails with. */
async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error("call succeeded but should have failed");
}

describe("history process", () => {
  const batch = applicationEvents().map(eventToWire);

  it("keeps published events across SIGKILL, dedupes a resent batch, and serves gRPC and JSON", async () => {
    const first = await startHistory();
    const publish = (c: HistoryServiceClient) => call(c.publishEvents.bind(c), { applicationId: APP, events: batch });
    expect(await publish(first.client)).toEqual({ ackedSeq: 17 });
    await killHard(first);

    const history = await startHistory();
    const { client, httpUrl } = history;
    expect(await publish(client)).toEqual({ ackedSeq: 17 });

    const { application } = await call(client.getApplication.bind(client), { applicationId: APP });
    expect(application).toMatchObject({ applicationId: APP, eventCount: 17, jobCount: 1 });
    const events = await allEvents(client, APP);
    expect(events.map((e) => e.seq)).toEqual(batch.map((e) => e.seq));
    expect(events).toEqual(batch);
    const page = await call(client.listEvents.bind(client), { applicationId: APP, jobId: "job-1", afterSeq: 10, limit: 2, pageSize: 0, pageToken: "" });
    expect(page.events.map((e) => e.seq)).toEqual([11, 12]);

    const { job } = await call(client.getJobSummary.bind(client), { applicationId: APP, jobId: "job-1" });
    expect(job).toMatchObject({ name: "wordcount", status: JobStatus.JOB_STATUS_SUCCEEDED, traceId: "0af7651916cd43dd8448eb211c80319c" });
    expect(job!.stats).toMatchObject({ tasksLaunched: 4, taskAttemptsFailed: 1 });
    const { jobs } = await call(client.listJobSummaries.bind(client), { applicationId: APP, driverApplicationId: "" });
    expect(jobs.map((j) => j.jobId)).toEqual(["job-1"]);
    const { stages } = await call(client.listStages.bind(client), { applicationId: APP, jobId: "job-1" });
    expect(stages.map((s) => [s.stageId, s.numTasks])).toEqual([[0, 2], [1, 1]]);
    const tasks = await allTasks(client, APP, "job-1");
    // Pages of one follow each other to the same lists; the last page's token is empty.
    expect(await allTasks(client, APP, "job-1", 1)).toEqual(tasks);
    expect(tasks.length).toBeGreaterThan(2);
    expect(await allEvents(client, APP, { pageSize: 4 })).toEqual(batch);
    expect((await allEvents(client, APP, { jobId: "job-1", afterSeq: 10, pageSize: 3 })).map((e) => e.seq)).toEqual(batch.filter((e) => e.jobId === "job-1" && e.seq > 10).map((e) => e.seq));
    const firstTasks = await call(client.listTasks.bind(client), { applicationId: APP, jobId: "job-1", pageSize: 2, pageToken: "" });
    expect(firstTasks.tasks).toEqual(tasks.slice(0, 2));
    expect(firstTasks.nextPageToken).toBe(tasks[1]!.taskId);
    const lastEvents = await call(client.listEvents.bind(client), { applicationId: APP, jobId: "", afterSeq: 0, limit: 0, pageSize: batch.length, pageToken: "" });
    expect(lastEvents.nextPageToken).toBe("");
    expect(tasks.filter((t) => t.state === TaskState.TASK_STATE_FAILED).map((t) => t.taskId)).toEqual(["t-0-1-0"]);
    const { executors } = await call(client.listExecutorHistory.bind(client), { applicationId: APP });
    expect(executors.map((e) => [e.executorId, e.alive, e.state, e.stateReason])).toEqual([
      ["exec-1", true, "active", ""],
      ["exec-2", false, "lost", "heartbeat timeout"],
    ]);

    const api = `${httpUrl}/api/v1/applications`;
    expect((await getJson(api)).body.applications).toEqual([expect.objectContaining({ applicationId: APP, eventCount: 17 })]);
    expect((await getJson(`${api}/${APP}/jobs/job-1`)).body.job).toMatchObject({ status: "succeeded", name: "wordcount" });
    expect((await getJson(`${api}/${APP}/jobs/job-1/stages`)).body.stages[0]).toMatchObject({ status: "succeeded", completedTasks: 2 });
    const httpTasks = (await getJson(`${api}/${APP}/jobs/job-1/tasks`)).body.tasks;
    expect(httpTasks.map((t: { state: string }) => t.state)).toEqual(["succeeded", "failed", "succeeded", "succeeded"]);
    expect((await getJson(`${api}/${APP}/executors`)).body.executors[1]).toMatchObject({ alive: false, lostReason: "heartbeat timeout" });
    const httpEvents = (await getJson(`${api}/${APP}/events?after=15&limit=5`)).body.events;
    expect(httpEvents).toEqual([
      expect.objectContaining({ seq: 16, type: "jobEnded", status: "succeeded" }),
      expect.objectContaining({ seq: 17, type: "executorRemoved", executorId: "exec-2" }),
    ]);
    const page404 = await fetch(`${httpUrl}/`);
    expect(page404.status).toBe(200);
    expect(await page404.text()).toContain("Ballast history");

    // Bad requests get clear errors and the service keeps serving.
    const publishBad = (request: Parameters<typeof client.publishEvents>[0]) => codeOf(call(client.publishEvents.bind(client), request));
    expect(await publishBad({ applicationId: "", events: batch })).toBe(status.INVALID_ARGUMENT);
    expect(await publishBad({ applicationId: APP, events: [{ ...batch[0]!, seq: 0 }] })).toBe(status.INVALID_ARGUMENT);
    // An event history cannot store is a dead letter: acknowledged, counted, listed, and no block for the ones behind it.
    const exclusion = { scope: "rack", id: "r1", excluded: true, untilMs: 0, reason: "", stageScoped: false, stageId: 0 };
    const badScope = { seq: 99, timeMs: 0, jobId: "", payload: { $case: "exclusionChanged" as const, value: exclusion } };
    const dead = [{ ...batch[0]!, seq: 97, payload: undefined }, { ...batch[3]!, seq: 98, jobId: "" }, badScope];
    expect((await call(client.publishEvents.bind(client), { applicationId: APP, events: dead })).ackedSeq).toBe(99);
    const deadLetters = (await getJson(`${api}/${APP}/dead-letters`)).body.deadLetters;
    expect(deadLetters.map((d: { seq: number; reason: string }) => [d.seq, d.reason])).toEqual([
      [97, expect.stringMatching(/has no payload/)],
      [98, expect.stringMatching(/job_id is required/)],
      [99, expect.stringMatching(/scope must be one of/)],
    ]);
    expect((await call(client.getApplication.bind(client), { applicationId: APP })).application!.deadLetterCount).toBe(3);
    expect(await codeOf(call(client.getApplication.bind(client), { applicationId: "nope" }))).toBe(status.NOT_FOUND);
    expect(await codeOf(call(client.getJobSummary.bind(client), { applicationId: APP, jobId: "nope" }))).toBe(status.NOT_FOUND);
    expect(await codeOf(call(client.listTasks.bind(client), { applicationId: APP, jobId: "nope", pageSize: 0, pageToken: "" }))).toBe(status.NOT_FOUND);
    expect(await codeOf(call(client.listEvents.bind(client), { applicationId: APP, jobId: "", afterSeq: 0, limit: 100_000, pageSize: 0, pageToken: "" }))).toBe(status.INVALID_ARGUMENT);
    expect(await getJson(`${api}/nope`)).toEqual({ status: 404, body: { error: 'unknown application "nope"' } });
    expect((await getJson(`${api}/${APP}/jobs/nope/stages`)).status).toBe(404);
    expect((await getJson(`${api}/${APP}/events?limit=abc`)).status).toBe(400);
    expect((await getJson(`${api}/${APP}/events?after=-1`)).status).toBe(400);
    expect((await getJson(`${httpUrl}/api/v1/whatever`)).status).toBe(404);
    expect((await fetch(api, { method: "POST" })).status).toBe(405);
    expect((await call(client.getApplication.bind(client), { applicationId: APP })).application!.eventCount).toBe(17);

    // SIGTERM stops it gracefully.
    client.close();
    const exitCode = new Promise((resolve) => history.child.once("exit", resolve));
    history.child.kill("SIGTERM");
    expect(await exitCode).toBe(0);
  });

  it("refuses a used login link after a SIGKILL and restart, within the link's lifetime", async () => {
    const ticket = mintTimedToken(testToken({ role: "user", user: "alice" }), "login", Date.now() + 120_000);
    const login = (running: RunningHistoryProcess) => fetch(`${running.httpUrl}/login?ticket=${encodeURIComponent(ticket)}`, { redirect: "manual" });
    const first = await startHistory();
    expect((await login(first)).status).toBe(303);
    await killHard(first);

    const restarted = await startHistory();
    const replay = await login(restarted);
    expect(replay.status).toBe(401);
    expect(replay.headers.get("set-cookie")).toBeNull();
    expect(await replay.text()).toContain("already used");
    await killHard(restarted);
  });

  it("rejects a bad flag with one line and exit code 2", () => {
    const result = spawnSync(process.execPath, [MAIN, "--data-dir", dataDir, "--bogus"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("--bogus");
    expect(result.stdout).toBe("");
    const badStore = spawnSync(process.execPath, [MAIN, "--store", "mysql://h/db"], { encoding: "utf8" });
    expect(badStore.status).toBe(2);
    expect(badStore.stderr.trim()).toBe("history: --store must be a postgresql://USER[:PASS]@HOST:PORT/DB URL, got mysql://h/db (see --help)");
    const neither = spawnSync(process.execPath, [MAIN], { encoding: "utf8", env: { ...process.env, BALLAST_DATA_DIR: "", BALLAST_STORE: "" } });
    expect(neither.status).toBe(2);
    expect(neither.stderr).toMatch(/--data-dir .* is required, unless --store/);
  });
});
