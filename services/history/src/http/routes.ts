import type { CachedDatasetInfo, PublishedEvent } from "@ballast/common/domain/events";
import { InvalidArgumentError, NotFoundError } from "@ballast/common/errors";
import { MAX_EVENT_LIMIT, type History } from "../history.js";

/**
 * The JSON API, as a pure function of (path, query) so it can be tested
 * without a socket. Every response is an object keyed by what it holds
 * ({"jobs": [...]}), enums are lowercase strings, times are epoch ms.
 */
export type ApiResult = { status: number; body: unknown };

type Handler = (history: History, params: string[], query: URLSearchParams) => Promise<unknown>;

interface Route {
  /** Path segments after /api/v1; ":" marks a parameter. */
  pattern: string[];
  handler: Handler;
}

const route = (path: string, handler: Handler): Route => ({ pattern: path.split("/").filter(Boolean), handler });

const ROUTES: Route[] = [
  route("applications", async (h) => ({ applications: await h.listApplications() })),
  route("applications/:app", async (h, [app]) => ({ application: await h.getApplication(app!), failovers: await h.listFailovers(app!) })),
  route("applications/:app/jobs", async (h, [app]) => ({ jobs: await h.listJobs(app!) })),
  route("applications/:app/jobs/:job", async (h, [app, job]) => ({ job: await h.getJob(app!, job!) })),
  route("applications/:app/jobs/:job/stages", async (h, [app, job]) => ({ stages: await h.listStages(app!, job!) })),
  route("applications/:app/jobs/:job/tasks", async (h, [app, job]) => ({ tasks: await h.listTasks(app!, job!) })),
  route("applications/:app/jobs/:job/cached-datasets", async (h, [app, job]) => cachedDatasetsOf(h, app!, job!)),
  route("jobs/:job", async (h, [job]) => ({ applicationId: await h.findJobApplication(job!) })),
  route("applications/:app/executors", async (h, [app]) => ({ executors: await h.listExecutors(app!) })),
  route("applications/:app/nodes", async (h, [app]) => ({ nodes: await h.listNodes(app!) })),
  route("applications/:app/dead-letters", async (h, [app]) => ({ deadLetters: await h.listDeadLetters(app!) })),
  route("applications/:app/events", async (h, [app], query) => {
    const options = {
      jobId: query.get("job") ?? "",
      afterSeq: integerParam(query, "after", 0, Number.MAX_SAFE_INTEGER) ?? 0,
      limit: integerParam(query, "limit", 1, MAX_EVENT_LIMIT) ?? 0,
    };
    return { events: (await h.listEvents(app!, options)).map(eventToJson) };
  }),
];

/**
 * The persisted datasets of a driver application's job and where their cached
 * partitions live, as the scheduler reported them when the job ended (its
 * last cachedDatasets event; none for a job that persists nothing).
 */
async function cachedDatasetsOf(h: History, app: string, job: string): Promise<{ applicationId: string; datasets: CachedDatasetInfo[] }> {
  let found: Extract<PublishedEvent["body"], { type: "cachedDatasets" }> | undefined;
  for (let afterSeq = 0; ; ) {
    const page = await h.listEvents(app, { jobId: job, afterSeq, limit: MAX_EVENT_LIMIT });
    for (const event of page) if (event.body.type === "cachedDatasets") found = event.body;
    if (page.length < MAX_EVENT_LIMIT) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  return { applicationId: found?.applicationId ?? "", datasets: found?.datasets ?? [] };
}

/** A query parameter that must be an integer in [min, max] when present. */
function integerParam(query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new InvalidArgumentError(`query parameter ${name}=${JSON.stringify(raw)} must be an integer between ${min} and ${max}`);
  }
  return value;
}

/** Flattens an event for JSON: {seq, timeMs, jobId, type, ...payload fields}. */
export function eventToJson(event: PublishedEvent): Record<string, unknown> {
  return { seq: event.seq, timeMs: event.timeMs, jobId: event.jobId, ...event.body };
}

function match(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i]!.startsWith(":")) params.push(segments[i]!);
    else if (pattern[i] !== segments[i]) return undefined;
  }
  return params;
}

/** Serves one GET under /api/v1. `path` is the part after /api/v1 (still URL-encoded). */
export async function handleApi(history: History, path: string, query: URLSearchParams): Promise<ApiResult> {
  try {
    const segments = path.split("/").filter(Boolean).map(decodeSegment);
    for (const { pattern, handler } of ROUTES) {
      const params = match(pattern, segments);
      if (params) return { status: 200, body: await handler(history, params, query) };
    }
    throw new NotFoundError(`no such API path: /api/v1/${segments.join("/")}`);
  } catch (err) {
    if (err instanceof InvalidArgumentError) return { status: 400, body: { error: err.message } };
    if (err instanceof NotFoundError) return { status: 404, body: { error: err.message } };
    throw err;
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError(`malformed URL path segment "${segment}"`);
  }
}
