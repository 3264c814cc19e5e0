// Hostile input to history: ids, numbers, events it cannot store (dead letters), and its HTTP face.
import { status } from "@grpc/grpc-js";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobStatus } from "@ballast/gen/common";
import type { Event } from "@ballast/gen/events";
import { HistoryServiceClient } from "@ballast/gen/history";
import { allEvents } from "@ballast/clients/history";
import { call, createClient } from "@ballast/common/grpc";
import { LOGIN_TICKET_TTL_MS, mintTimedToken, mintToken } from "@ballast/common/auth";
import { historyHeaders, testToken } from "../support/auth.js";
import { ABOVE_2_53, expectClusterHealthy, expectStatus, pb, rawUnary, startHostileCluster, type TestCluster } from "./support.js";

let cluster: TestCluster;
let history: InstanceType<typeof HistoryServiceClient>;

beforeAll(async () => {
  cluster = await startHostileCluster();
  history = createClient(HistoryServiceClient, cluster.history);
});

afterAll(async () => {
  history?.close();
  await cluster?.stop();
});

const SERVICE = "/ballast.v1.HistoryService";
const APP = "hostile-app";
const long = (n: number) => "x".repeat(n);

const taskStarted = (seq: number, overrides: { jobId?: string; taskId?: string; timeMs?: number } = {}): Event => ({
  seq,
  timeMs: overrides.timeMs ?? 1_000 + seq,
  jobId: overrides.jobId ?? "job-1",
  payload: { $case: "taskStarted", value: { taskId: overrides.taskId ?? `task-${seq}`, stageId: 0, stageAttempt: 0, partition: 0, attempt: 0, executorId: "e", nodeId: "n" } },
});
const jobSubmitted = (seq: number, name: string): Event => ({ seq, timeMs: 1_000, jobId: "job-1", payload: { $case: "jobSubmitted", value: { name, numStages: 1, traceId: "", applicationId: "" } } });
const publish = (applicationId: string, events: Event[]) => call(history.publishEvents.bind(history), { applicationId, events });
const application = async () => (await call(history.getApplication.bind(history), { applicationId: APP })).application!;
const storedSeqs = async () => (await allEvents(history, APP)).map((e) => e.seq);

describe("what cannot even be keyed refuses the batch with INVALID_ARGUMENT", () => {
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ["an empty application_id", () => publish("", [taskStarted(1)]), /application_id is required/],
    ["a 201-character application_id", () => publish(long(201), [taskStarted(1)]), /application_id is longer than 200/],
    ["an application_id with a newline", () => publish("app\nforged", [taskStarted(1)]), /control character/],
    ["an event with seq 0", () => publish(APP, [taskStarted(0)]), /seq must be > 0/],
    ["GetApplication with an over-long id", () => call(history.getApplication.bind(history), { applicationId: long(400) }), /longer than 200/],
    ["GetJobSummary with a newline in job_id", () => call(history.getJobSummary.bind(history), { applicationId: APP, jobId: "a\nb" }), /control character/],
    ["ListEvents with a page_size above the maximum", () => call(history.listEvents.bind(history), { applicationId: APP, jobId: "", afterSeq: 0, limit: 0, pageSize: 10_001, pageToken: "" }), /page_size must be/],
    ["ListEvents with a page_token that is no seq", () => call(history.listEvents.bind(history), { applicationId: APP, jobId: "", afterSeq: 0, limit: 0, pageSize: 0, pageToken: "1e9" }), /page_token "1e9" is not from a previous page/],
    ["ListEvents with a page_token above 2^53", () => call(history.listEvents.bind(history), { applicationId: APP, jobId: "", afterSeq: 0, limit: 0, pageSize: 0, pageToken: "9007199254740993" }), /page_token/],
    ["ListTasks with a page_size above the maximum", () => call(history.listTasks.bind(history), { applicationId: APP, jobId: "job-1", pageSize: 10_001, pageToken: "" }), /page_size must be/],
    ["ListTasks with a page_token of no task", () => call(history.listTasks.bind(history), { applicationId: APP, jobId: "job-1", pageSize: 0, pageToken: long(300) }), /page_token "x+" is not from a previous page/],
    ["ListEvents with a limit above the maximum", () => call(history.listEvents.bind(history), { applicationId: APP, jobId: "", afterSeq: 0, limit: 100_000, pageSize: 0, pageToken: "" }), /limit must be between/],
  ];
  it.each(cases)("%s", async (_name, request, details) => {
    await publish(APP, [taskStarted(1)]); // the application exists for the lookups
    await expectStatus(request(), status.INVALID_ARGUMENT, details);
  });

  const raw: Array<[string, string, Buffer, RegExp]> = [
    ["an event seq above 2^53", "PublishEvents", Buffer.concat([pb.bytes(1, APP), pb.bytes(2, pb.varint(1, ABOVE_2_53))]), /above 2\^53/],
    ["an event time above 2^53", "PublishEvents", Buffer.concat([pb.bytes(1, APP), pb.bytes(2, Buffer.concat([pb.varint(1, 5n), pb.varint(2, ABOVE_2_53)]))]), /above 2\^53/],
    ["ListEvents after_seq above 2^53", "ListEvents", Buffer.concat([pb.bytes(1, APP), pb.varint(3, ABOVE_2_53)]), /above 2\^53/],
    ["a truncated PublishEvents", "PublishEvents", pb.truncated(2), /does not decode/],
    ["a truncated GetApplication", "GetApplication", pb.truncated(1), /does not decode/],
  ];
  it.each(raw)("%s (raw bytes)", async (_name, method, bytes, details) => {
    await expectStatus(rawUnary(cluster.history, `${SERVICE}/${method}`, bytes), status.INVALID_ARGUMENT, details);
  });

  it("unknown ids are NOT_FOUND", async () => {
    await expectStatus(call(history.getApplication.bind(history), { applicationId: "no-such-app" }), status.NOT_FOUND, /unknown application/);
    await expectStatus(call(history.getJobSummary.bind(history), { applicationId: APP, jobId: "job-404" }), status.NOT_FOUND, /unknown job/);
  });
});

describe("an event history cannot store is a dead letter and never blocks the ones behind it", () => {
  let seq = 100;
  const cases: Array<[string, (s: number) => Event, RegExp]> = [
    ["a job-scoped event without job_id", (s) => taskStarted(s, { jobId: "" }), /job_id is required/],
    ["a 201-character job_id", (s) => taskStarted(s, { jobId: long(201) }), /job_id is longer than 200/],
    ["a task_id with a control character", (s) => taskStarted(s, { taskId: "t\u0000" }), /task_id .* control character/],
    ["a negative time", (s) => taskStarted(s, { timeMs: -5 }), /time_ms must be an integer >= 0/],
    ["a job name over the shared limit", (s) => jobSubmitted(s, long(201)), /name is longer than 200/],
    ["no payload", (s) => ({ seq: s, timeMs: 1, jobId: "job-1", payload: undefined }), /has no payload/],
    ["an unspecified job status", (s) => ({ seq: s, timeMs: 1, jobId: "job-1", payload: { $case: "jobEnded", value: { status: JobStatus.JOB_STATUS_UNSPECIFIED, error: undefined, stats: undefined } } }), /unknown job status/],
    ["an unknown exclusion scope", (s) => ({ seq: s, timeMs: 1, jobId: "", payload: { $case: "exclusionChanged", value: { scope: "galaxy", id: "x", excluded: true, untilMs: 0, reason: "", stageScoped: false, stageId: 0 } } }), /scope must be one of/],
    ["an executor removal without executor_id", (s) => ({ seq: s, timeMs: 1, jobId: "", payload: { $case: "executorRemoved", value: { executorId: "", reason: "" } } }), /executor_id is required/],
    ["a decommission without phase", (s) => ({ seq: s, timeMs: 1, jobId: "", payload: { $case: "decommissionChanged", value: { nodeId: "n", phase: "", deadlineMs: 0, reason: "" } } }), /phase is required/],
  ];
  it.each(cases)("%s: acknowledged, counted, listed; the next event is stored", async (_name, bad, reason) => {
    const before = (await application()).deadLetterCount;
    const deadSeq = ++seq;
    const nextSeq = ++seq;
    const { ackedSeq } = await publish(APP, [bad(deadSeq), taskStarted(nextSeq)]);
    expect(ackedSeq).toBe(nextSeq);
    expect((await application()).deadLetterCount).toBe(before + 1);
    expect(await storedSeqs()).toContain(nextSeq);
    expect(await storedSeqs()).not.toContain(deadSeq);
    const letters = await deadLetters();
    expect(letters.find((d) => d.seq === deadSeq)).toMatchObject({ reason: expect.stringMatching(reason) });
  });

  it("a resent dead letter is not counted twice", async () => {
    const before = (await application()).deadLetterCount;
    await publish(APP, [taskStarted(101, { jobId: "" })]);
    expect((await application()).deadLetterCount).toBe(before);
  });

  it("a batch that is only a dead letter still acknowledges its seq (the outbox moves on)", async () => {
    const { ackedSeq } = await publish(APP, [taskStarted(500, { jobId: "" })]);
    expect(ackedSeq).toBe(500);
  });
});

async function deadLetters(): Promise<Array<{ seq: number; reason: string }>> {
  const res = await get(`/api/v1/applications/${APP}/dead-letters`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body).deadLetters;
}

// ------------------------------------------------------------------ HTTP

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A raw HTTP request, so the Host header is whatever the test says (fetch would not let it be forged).
 * It carries a user's token unless `headers` are given.
 */
function get(path: string, options: { host?: string; method?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const [hostname, port] = [cluster.historyHttp.slice(0, cluster.historyHttp.lastIndexOf(":")), Number(cluster.historyHttp.slice(cluster.historyHttp.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: options.method ?? "GET", headers: { ...(options.headers ?? historyHeaders()), ...(options.host === undefined ? {} : { host: options.host }) }, setHost: options.host === undefined }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the HTTP face refuses foreign hosts and sends its defences", () => {
  const hosts: Array<[string, number]> = [
    ["evil.example", 403],
    ["evil.example:18080", 403],
    ["localhost.evil.example", 403],
    ["127.0.0.1.evil.example", 403],
    ["bad host", 403],
    ["localhost", 200],
    ["127.0.0.1:1", 200],
    ["[::1]:8080", 200],
  ];
  it.each(hosts)("Host %s -> %i", async (host, expected) => {
    const res = await get("/api/v1/applications", { host });
    expect(res.status).toBe(expected);
    if (expected === 403) expect(JSON.parse(res.body).error).toMatch(/is not allowed/);
  });

  it("the page carries a CSP allowing only its own script and style", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  const paths: Array<[string, number]> = [
    ["/", 200],
    ["/api/v1/applications", 200],
    ["/api/v1/applications/no-such-app", 404],
    ["/api/v1/nope", 404],
    [`/api/v1/applications/${APP}/events?limit=abc`, 400],
    [`/api/v1/applications/${"x".repeat(300)}`, 400],
  ];
  it.each(paths)("%s -> %i, with nosniff and no framing", async (path, expected) => {
    const res = await get(path);
    expect(res.status).toBe(expected);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("DENY");
  });

  it("refuses other methods with 405", async () => {
    expect((await get("/api/v1/applications", { method: "DELETE" })).status).toBe(405);
    expect((await get("/api/v1/applications", { method: "POST" })).status).toBe(405);
  });
});

describe("the HTTP API refuses strangers and bad credentials, and never echoes them", () => {
  const alice = testToken({ role: "user", user: "alice" });
  const ticket = (token: string, ttlMs: number) => mintTimedToken(token, "login", Date.now() + ttlMs);
  const refused: Array<[string, Record<string, string>, number]> = [
    ["no credentials", {}, 401],
    ["an empty bearer", { authorization: "Bearer " }, 401],
    ["a scheme other than Bearer", { authorization: `Basic ${Buffer.from(`alice:${alice}`).toString("base64")}` }, 401],
    ["two tokens in one header", { authorization: `Bearer ${alice} ${alice}` }, 401],
    ["a token from another cluster", { authorization: `Bearer ${mintToken(Buffer.alloc(32, 9), { role: "cluster" })}` }, 401],
    ["a token with a forged role", { authorization: `Bearer ${alice.replace(".user.", ".cluster.")}` }, 401],
    ["an 8 KiB token", { authorization: `Bearer ${"A".repeat(8192)}` }, 401],
    ["a login ticket as bearer", { authorization: `Bearer ${ticket(alice, 60_000)}` }, 401],
    ["a job's token", { authorization: `Bearer ${testToken({ role: "job", user: "alice", jobId: "job-1", grants: { read: [], names: [], write: "" } })}` }, 403],
    ["a garbage cookie", { cookie: "ballast_session=%%%; ballast_session" }, 401],
    ["the raw token as cookie", { cookie: `ballast_session=${alice}` }, 401],
    ["a ticket as cookie", { cookie: `ballast_session=${ticket(alice, 60_000)}` }, 401],
    ["an expired session", { cookie: `ballast_session=${mintTimedToken(alice, "session", Date.now() - 1)}` }, 401],
    ["a session lasting a year", { cookie: `ballast_session=${mintTimedToken(alice, "session", Date.now() + 365 * 86_400_000)}` }, 401],
  ];
  it.each(refused)("%s -> %i", async (_name, headers, expected) => {
    const res = await get(`/api/v1/applications/${APP}/events`, { headers });
    expect(res.status).toBe(expected);
    for (const value of Object.values(headers)) if (value.length > 12) expect(res.body).not.toContain(value.replace(/^Bearer /, ""));
  });

  const logins: Array<[string, string]> = [
    ["no ticket", "/login"],
    ["an empty ticket", "/login?ticket="],
    ["a garbage ticket", "/login?ticket=%00%ff"],
    ["a ticket of another cluster", `/login?ticket=${ticket(mintToken(Buffer.alloc(32, 9), { role: "user", user: "alice" }), 60_000)}`],
    ["an expired ticket", `/login?ticket=${ticket(alice, -1)}`],
    ["a ticket lasting longer than a login link may", `/login?ticket=${ticket(alice, LOGIN_TICKET_TTL_MS + 60_000)}`],
    ["a job's ticket", `/login?ticket=${ticket(testToken({ role: "job", user: "a", jobId: "j", grants: { read: [], names: [], write: "" } }), 60_000)}`],
    ["an 8 KiB ticket", `/login?ticket=${"A".repeat(8_192)}`],
  ];
  it.each(logins)("login with %s -> 401, no cookie", async (_name, path) => {
    const res = await get(path, { headers: {} });
    expect(res.status).toBe(401);
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("a 64 KiB ticket is refused by the header limit (431, or the connection reset while it was still being sent), and the service goes on", async () => {
    // Node answers 431 and closes as soon as the request line passes its limit: a client still
    // writing the rest of its 64 KiB may see the reset before it reads the answer.
    const outcome = await get(`/login?ticket=${"A".repeat(65_536)}`, { headers: {} }).then(
      (res) => ({ status: res.status, cookie: res.headers["set-cookie"] }),
      (err: NodeJS.ErrnoException) => ({ status: err.code, cookie: undefined }),
    );
    expect([431, "ECONNRESET", "EPIPE"]).toContain(outcome.status);
    expect(outcome.cookie).toBeUndefined();
    expect((await get("/healthz", { headers: {} })).status).toBe(200);
  });

  it("a login redirects only within this site, whatever the job parameter says", async () => {
    const jobs = ["//evil.example", "https://evil.example/", "\\\\evil.example", "x\r\nSet-Cookie: a=b"];
    for (const [i, job] of jobs.entries()) {
      // A distinct expiry per ticket: a ticket logs in once, and two minted in the same ms are the same ticket.
      const res = await get(`/login?job=${encodeURIComponent(job)}&ticket=${ticket(alice, 60_000 + i)}`, { headers: {} });
      expect(res.status).toBe(303);
      expect(String(res.headers.location)).toMatch(/^\/#\/job\/[^/\\\s]*$/);
      expect(String(res.headers["set-cookie"])).toMatch(/^ballast_session=/);
    }
  });

  it("the health endpoint answers anyone", async () => {
    expect((await get("/healthz", { headers: {} })).status).toBe(200);
  });
});

describe("at the end", () => {
  it("every service is SERVING and a small job still runs", async () => {
    await expectClusterHealthy(cluster);
  });
});
