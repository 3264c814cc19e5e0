import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHistoryService, type RunningHistoryService } from "../app.js";
import { History } from "../history.js";
import { wireEventCodec } from "../rpc/eventCodec.js";
import { SqliteHistoryStore } from "../store/sqlite-store.js";
import type { PublishedEvent as HistoryEvent } from "@ballast/common/domain/events";
import { emptyStats } from "@ballast/common/domain/stats";
import { applicationEvents, recoveryEvents, T0 } from "../testing/fixtures.js";
import { HISTORY_PAGE, historyPage } from "./page.js";
import { handleApi } from "./routes.js";
import { testToken, userHeaders } from "../testing/tokens.js";
import { mintTimedToken, mintToken } from "@ballast/common/auth";

const APP = "team/app 1"; // needs URL encoding: a slash and a space
const dataDir = mkdtempSync(join(tmpdir(), "history-http-"));
let service: RunningHistoryService;
let history: History;

beforeAll(async () => {
  const store = new SqliteHistoryStore(":memory:", wireEventCodec);
  history = new History(store);
  await history.publish(APP, [...applicationEvents(), ...recoveryEvents()]);
  service = await startHistoryService({ address: "127.0.0.1:0", httpAddress: "127.0.0.1:0", dataDir, store });
});

afterAll(async () => {
  await service?.stop(100);
  rmSync(dataDir, { recursive: true, force: true });
});

const api = (path: string, query = "") => handleApi(history, path, new URLSearchParams(query));

describe("JSON API routes", () => {
  it("decodes path segments and shows enums as lowercase strings", async () => {
    const app = encodeURIComponent(APP);
    expect(await api(`/applications/${app}/jobs/job-1`)).toMatchObject({ status: 200, body: { job: { status: "succeeded" } } });
    const tasks = await api(`/applications/${app}/jobs/job-1/tasks`);
    expect((tasks.body as { tasks: Array<{ state: string }> }).tasks.map((t) => t.state)).toContain("failed");
    const events = await api(`/applications/${app}/events`, "job=job-1&after=2&limit=1");
    expect(events.body).toEqual({ events: [expect.objectContaining({ seq: 3, type: "jobSubmitted", name: "wordcount" })] });
  });

  it("serves nodes, and failovers with the application", async () => {
    const app = encodeURIComponent(APP);
    const { body } = await api(`/applications/${app}`);
    expect(body).toMatchObject({ application: { applicationId: APP }, failovers: [{ seq: 30, epoch: 2, leaderAddress: "127.0.0.1:7077" }] });
    const nodes = (await api(`/applications/${app}/nodes`)).body as { nodes: Array<Record<string, unknown>> };
    expect(nodes.nodes.map((n) => [n.nodeId, n.state])).toEqual([["node-1", "excluded"], ["node-2", "lost"], ["node-3", "decommissioned"]]);
    expect((await api(`/applications/nope/nodes`)).status).toBe(404);
  });

  it("answers 400 for bad query parameters and 404 for unknown ids or paths", async () => {
    const app = encodeURIComponent(APP);
    for (const query of ["limit=0", "limit=10001", "limit=1.5", "after=x", "after="]) {
      expect((await api(`/applications/${app}/events`, query)).status, query).toBe(400);
    }
    expect((await api(`/applications/${app}/events`, "job=nope")).status).toBe(404);
    expect(await api(`/applications/${app}/jobs/nope`)).toEqual({ status: 404, body: { error: `unknown job "nope" in application "${APP}"` } });
    expect((await api(`/applications/%E0%A4%A`)).status).toBe(400);
    expect((await api(`/applications/${app}/jobs/job-1/nothing`)).status).toBe(404);
  });
});

describe("cached datasets of a driver application's job", () => {
  const CACHE_APP = "cache-app";
  const datasets = [
    {
      cacheKey: "ds3", name: "filter at explore.ts:5", level: "memory_and_disk", numPartitions: 4, partitionsHeld: 3, bytes: 300,
      holders: [{ kind: "disk", id: "node-1", partitions: 3, bytes: 300 }, { kind: "memory", id: "exec-1", partitions: 2, bytes: 200 }],
    },
  ];
  const at = (seq: number, jobId: string, body: HistoryEvent["body"]): HistoryEvent => ({ seq, timeMs: T0 + seq, jobId, body });

  beforeAll(async () => {
    const published = await history.publish(CACHE_APP, [
      at(1, "job-c", { type: "jobSubmitted", name: "count", numStages: 1, applicationId: "app-explore" }),
      at(2, "job-c", { type: "cachedDatasets", applicationId: "app-explore", datasets }),
      at(3, "job-c", { type: "jobEnded", status: "succeeded", stats: { ...emptyStats() } }),
      at(4, "job-plain", { type: "jobSubmitted", name: "plain", numStages: 1 }),
      // A holder without an id names nothing history can show: refused, kept as a dead letter.
      at(5, "job-plain", { type: "cachedDatasets", applicationId: "app-explore", datasets: [{ ...datasets[0]!, holders: [{ kind: "memory", id: "", partitions: 1, bytes: 1 }] }] }),
    ]);
    expect(published.deadLetters.map((d) => [d.seq, d.reason])).toEqual([[5, expect.stringMatching(/holders\[\]\.id is required/)]]);
  });

  it("the JSON API answers the datasets and where their partitions live, as the job's end left them", async () => {
    expect(await api(`/applications/${CACHE_APP}/jobs/job-c/cached-datasets`)).toEqual({ status: 200, body: { applicationId: "app-explore", datasets } });
    expect(await api(`/applications/${CACHE_APP}/jobs/job-plain/cached-datasets`)).toEqual({ status: 200, body: { applicationId: "", datasets: [] } });
    expect((await api(`/applications/${CACHE_APP}/jobs/nope/cached-datasets`)).status).toBe(404);
  });
});

describe("web UI", () => {
  /** Runs the page's script against the real server with a minimal DOM; returns the rendered HTML of a hash route. */
  async function render(hash: string): Promise<string> {
    const script = HISTORY_PAGE.slice(HISTORY_PAGE.indexOf("<script>") + 8, HISTORY_PAGE.indexOf("</script>"));
    const view = { innerHTML: "Loading..." };
    const globals = {
      document: { getElementById: () => view, hidden: true, addEventListener: () => undefined },
      location: { hash },
      window: { addEventListener: () => undefined },
      fetch: (path: string) => fetch(`${service.httpUrl}/${path}`, { headers: userHeaders() }),
      setInterval: () => 0,
      Promise,
      Date,
    };
    runInNewContext(script, globals);
    for (let i = 0; i < 100 && view.innerHTML === "Loading..."; i++) await new Promise((r) => setTimeout(r, 20));
    return view.innerHTML;
  }

  it("serves a self-contained page", async () => {
    const response = await fetch(`${service.httpUrl}/`);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
  });

  it("lists applications, an application's jobs and executors, and a job's stages, tasks and events", async () => {
    const app = encodeURIComponent(APP);
    expect(await render("#/")).toContain(`href="#/app/${app}"`);
    const appView = await render(`#/app/${app}`);
    expect(appView).toContain("wordcount");
    expect(appView).toContain('<span class="status succeeded">succeeded</span>');
    expect(appView).toContain("heartbeat timeout");
    const jobView = await render(`#/app/${app}/job/job-1`);
    expect(jobView).toContain("reduceByKey at wordcount.ts:9");
    expect(jobView).toContain("t-0-1-0");
    expect(jobView).toContain("user_error: boom");
    expect(jobView).toContain("jobEnded");
    expect(jobView).not.toContain('class="recovery"');
    expect(appView).toContain("<h2>Nodes</h2>");
    expect(appView).toContain('<span class="status decommissioned">decommissioned</span>');
    expect(appView).toContain("127.0.0.1:7077"); // the failover's new leader
    expect(appView).toContain("lost outputs: 1, stage resubmissions: 1 (partitions: 1), task resubmissions: 1");
    const recoveringJob = await render(`#/app/${app}/job/job-2`);
    expect(recoveringJob.match(/<tr class="recovery">/g)).toHaveLength(4); // lost outputs, two resubmissions, a stage exclusion
    expect(recoveringJob).toContain('mapOutputsLost <span class="mark">lost outputs</span>');
    expect(await render(`#/app/nope`)).toContain("unknown application &quot;nope&quot;"); // escaped, like every value
  });

  it("shows a job's cached datasets: level, partitions held of the total, size and holders", async () => {
    const jobView = await render("#/app/cache-app/job/job-c");
    expect(jobView).toContain("<h2>Cached datasets</h2>");
    expect(jobView).toContain("filter at explore.ts:5");
    expect(jobView).toContain("3 / 4");
    expect(jobView).toContain("node node-1 (disk): 3, ");
    expect(jobView).toContain("executor exec-1 (memory): 2, ");
    expect(await render(`#/app/${encodeURIComponent(APP)}/job/job-1`)).not.toContain("Cached datasets");
  });

  it("links a job's trace id, from a configurable template (Jaeger's by default)", async () => {
    const jobView = await render(`#/app/${encodeURIComponent(APP)}/job/job-1`);
    expect(jobView).toContain('<a href="http://localhost:16686/trace/0af7651916cd43dd8448eb211c80319c">0af7651916cd43dd8448eb211c80319c</a>');
    const custom = historyPage("https://traces.example/t/{traceId}?from=ballast</script>");
    expect(custom).toContain('var TRACE_URL = "https://traces.example/t/{traceId}?from=ballast\\u003c/script>";');
    expect(custom).not.toContain("localhost:16686");
  });

  it("draws a job's timeline: stage spans, task bars per executor lane, and its failure story as markers", async () => {
    const app = encodeURIComponent(APP);
    const done = await render(`#/app/${app}/job/job-1`);
    expect(done).toContain('<svg class="timeline"');
    expect(done.match(/<rect class="task /g)!.length).toBeGreaterThan(0);
    expect(done).toMatch(/<rect class="task failed" data-detail="t-0-1-0 on /);
    expect(done).not.toContain('class="marker'); // exec-2 was lost only after job-1 ended
    expect(done).toContain(">+32 ms</text>");
    const recovering = await render(`#/app/${app}/job/job-2`);
    for (const type of ["exclusionChanged", "decommissionChanged", "shuffleMigrated", "mapOutputsLost", "taskResubmitted", "stageResubmitted", "executorRemoved", "schedulerFailover"]) {
      expect(recovering, type).toContain(`<g class="marker marker-${type}">`);
    }
    expect(recovering).not.toContain("exec-2"); // lost before job-2 began
  });

  it("opens a job from a link that names only the job, as `ballast submit` prints it", async () => {
    expect(await api("/jobs/job-2")).toEqual({ status: 200, body: { applicationId: APP } });
    expect(await api("/jobs/nope")).toEqual({ status: 404, body: { error: 'no application has a job "nope"' } });
    const jobView = await render("#/job/job-2");
    expect(jobView).toContain(`href="#/app/${encodeURIComponent(APP)}"`); // the crumbs name its application
    expect(jobView).toContain("<h2>Stages</h2>");
    expect(await render("#/job/nope")).toContain("no application has a job &quot;nope&quot;");
  });
});

describe("authentication", () => {
  const alice = testToken({ role: "user", user: "alice" });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${service.httpUrl}${path}`, { headers, redirect: "manual" });
  const loginPath = (ticket: string) => `/login?job=job-2&ticket=${encodeURIComponent(ticket)}`;

  it("answers 401 without credentials or with a token of another cluster, and says how to log in", async () => {
    const otherCluster = mintToken(Buffer.alloc(32, 7), { role: "user", user: "alice" });
    for (const headers of [{}, bearer(otherCluster), bearer("nonsense"), { authorization: `Basic ${alice}` }]) {
      const response = await get("/api/v1/applications", headers);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const text = await response.text();
      expect(text).toMatch(/ballast history-link/);
      expect(text).not.toContain(otherCluster); // a presented credential is never echoed
    }
  });

  it("lets users and the cluster read every application, and refuses a job's token with 403", async () => {
    for (const identity of [{ role: "user", user: "alice" }, { role: "user", user: "bob" }, { role: "cluster" }] as const) {
      expect((await get("/api/v1/applications", bearer(testToken(identity)))).status).toBe(200);
    }
    const response = await get("/api/v1/applications", bearer(testToken({ role: "job", user: "alice", jobId: "job-1", grants: { read: [], names: [], write: "" } })));
    expect(response.status).toBe(403);
    expect((await response.json()).error).toMatch(/job alice\/job-1 may not read history/);
  });

  it("keeps the health endpoint and the page shell open", async () => {
    expect(await (await get("/healthz")).json()).toEqual({ status: "serving" });
    expect((await get("/")).status).toBe(200);
  });

  it("swaps a login link's ticket for an HttpOnly SameSite=Strict session cookie and redirects it out of the address", async () => {
    const ticket = mintTimedToken(alice, "login", Date.now() + 60_000);
    const response = await get(loginPath(ticket));
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/#/job/job-2");
    const cookie = response.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^ballast_session=bt1t\.session\.[^;]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict$/); // no Secure over plain HTTP
    expect(cookie).not.toContain(ticket);
    expect(await response.text()).not.toContain(ticket);
    const session = cookie.split(";")[0]!;
    expect((await get(`/api/v1/applications/${encodeURIComponent(APP)}/jobs/job-2`, { cookie: `other=1; ${session}` })).status).toBe(200);

    const out = await get("/logout", { cookie: session });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/^ballast_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
  });

  it("lets a login link log in once: a second use is refused with a 401 page and no cookie", async () => {
    const ticket = mintTimedToken(alice, "login", Date.now() + 90_000);
    expect((await get(loginPath(ticket))).status).toBe(303);
    const again = await get(loginPath(ticket));
    expect(again.status).toBe(401);
    expect(again.headers.get("content-type")).toMatch(/^text\/html/);
    expect(again.headers.get("set-cookie")).toBeNull();
    const page = await again.text();
    expect(page).toMatch(/<h1>Login refused<\/h1>/);
    expect(page).toMatch(/this login link was already used \(a link logs in once\): run `ballast history-link JOB` for a new one/);
    expect(page).not.toContain(ticket);
    // Another ticket of the same user still works.
    expect((await get(loginPath(mintTimedToken(alice, "login", Date.now() + 91_000)))).status).toBe(303);
  });

  it("refuses expired, forged or misused tickets and sessions, without echoing them", async () => {
    const expired = mintTimedToken(alice, "login", Date.now() - 1);
    const tooLong = mintTimedToken(alice, "login", Date.now() + 24 * 3_600_000);
    const session = mintTimedToken(alice, "session", Date.now() + 60_000);
    const jobTicket = mintTimedToken(testToken({ role: "job", user: "alice", jobId: "job-1", grants: { read: [], names: [], write: "" } }), "login", Date.now() + 60_000);
    for (const ticket of [expired, tooLong, session, jobTicket, alice, "", "bt1t.login.x"]) {
      const response = await get(loginPath(ticket));
      expect(response.status, ticket).toBe(401);
      expect(response.headers.get("set-cookie")).toBeNull();
      const text = await response.text();
      expect(text).toMatch(/invalid or has expired/);
      if (ticket) expect(text).not.toContain(ticket);
    }
    const ticket = mintTimedToken(alice, "login", Date.now() + 60_000);
    for (const cookie of [`ballast_session=${ticket}`, `ballast_session=${alice}`, `ballast_session=${mintTimedToken(alice, "session", Date.now() - 1)}`]) {
      expect((await get("/api/v1/applications", { cookie })).status, cookie).toBe(401);
    }
    expect((await get("/api/v1/applications", bearer(ticket))).status).toBe(401); // a ticket is no bearer token
  });
});
