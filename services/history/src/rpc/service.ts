import { Event as WireEvent } from "@ballast/gen/events";
import { HistoryServiceService, TaskSummary, type HistoryServiceServer } from "@ballast/gen/history";
import { badPageToken, fillPage, indexAfter, pageSizeOf, type PageItemCodec, type PageSizes } from "@ballast/common/paging";
import type { PublishedEvent } from "@ballast/common/domain/events";
import { InvalidArgumentError } from "@ballast/common/errors";
import { unary, type ServiceBinding } from "@ballast/common/grpc";
import { withStrictDecoding } from "@ballast/common/wire/decode";
import type { Logger } from "@ballast/common/logging";
import { withSpan } from "@ballast/common/telemetry";
import { eventFromWire, eventToWire } from "@ballast/common/wire/events";
import { executorToWire } from "@ballast/common/wire/resources";
import type { TaskSummary as DomainTaskSummary } from "../core/summaries.js";
import { DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT, type History } from "../history.js";
import type { DeadLetter } from "../store/store.js";
import { applicationToWire, jobToWire, stageToWire, taskToWire } from "./summaries.js";

/** The gRPC face of history: wire in, domain through History, wire out. */
export function historyServiceImplementation(history: History, logger?: Logger): HistoryServiceServer {
  return {
    publishEvents: unary(async (request) => {
      const { events, refused } = convertEach(request.events);
      const attributes = { "ballast.application_id": request.applicationId, "ballast.events": request.events.length };
      return withSpan("history.publish", attributes, async (span) => {
        const result = await history.publish(request.applicationId, events, refused);
        span.setAttribute("ballast.events_inserted", result.inserted);
        for (const dead of result.deadLetters) {
          logger?.error({ applicationId: request.applicationId, seq: dead.seq, type: dead.type, reason: dead.reason }, "event refused; kept as a dead letter, the events behind it go on");
        }
        logger?.debug({ applicationId: request.applicationId, received: events.length, ...result }, "events published");
        return { ackedSeq: result.ackedSeq };
      });
    }),
    listApplications: unary(async () => ({ applications: (await history.listApplications()).map(applicationToWire) })),
    getApplication: unary(async (request) => ({ application: applicationToWire(await history.getApplication(request.applicationId)) })),
    listJobSummaries: unary(async (request) => ({ jobs: (await history.listJobs(request.applicationId, request.driverApplicationId)).map(jobToWire) })),
    getJobSummary: unary(async (request) => ({ job: jobToWire(await history.getJob(request.applicationId, request.jobId)) })),
    listStages: unary(async (request) => ({ stages: (await history.listStages(request.applicationId, request.jobId)).map(stageToWire) })),
    listTasks: unary(async (request) => {
      const size = pageSizeOf(request.pageSize, TASK_PAGE_SIZES);
      const tasks = await history.listTasks(request.applicationId, request.jobId);
      const page = fillPage(tasks, indexAfter(tasks, request.pageToken, TASK_PAGES.keyOf), size, TASK_PAGES);
      return { tasks: page.items, nextPageToken: page.nextPageToken };
    }),
    listExecutorHistory: unary(async (request) => ({ executors: (await history.listExecutors(request.applicationId)).map(executorToWire) })),
    listEvents: unary(async (request) => {
      const { applicationId, jobId } = request;
      // page_size is checked here; an older client's limit, by History as ever.
      const limit = request.pageSize ? pageSizeOf(request.pageSize, EVENT_PAGE_SIZES) : request.limit;
      const afterSeq = request.pageToken ? seqOfPageToken(request.pageToken) : request.afterSeq;
      const events = await history.listEventsAndOneMore(applicationId, { jobId, afterSeq, limit });
      const page = fillPage(events, 0, limit || DEFAULT_EVENT_LIMIT, EVENT_PAGES);
      return { events: page.items, nextPageToken: page.nextPageToken };
    }),
  };
}

const TASK_PAGE_SIZES: PageSizes = { default: 1000, max: 10_000 };
const TASK_PAGES: PageItemCodec<DomainTaskSummary, TaskSummary> = {
  toWire: taskToWire,
  encodedBytes: (task) => TaskSummary.encode(task).finish().length,
  keyOf: (task) => task.taskId,
};

const EVENT_PAGE_SIZES: PageSizes = { default: DEFAULT_EVENT_LIMIT, max: MAX_EVENT_LIMIT };
/** An event page's token is the seq of its last event: the next page starts after it. */
const EVENT_PAGES: PageItemCodec<PublishedEvent, WireEvent> = {
  toWire: eventToWire,
  encodedBytes: (event) => WireEvent.encode(event).finish().length,
  keyOf: (event) => String(event.seq),
};

function seqOfPageToken(pageToken: string): number {
  const seq = /^\d{1,16}$/.test(pageToken) ? Number(pageToken) : NaN;
  if (!Number.isSafeInteger(seq)) throw badPageToken(pageToken);
  return seq;
}

export function historyServiceBinding(history: History, logger?: Logger): ServiceBinding {
  return withStrictDecoding({
    name: "ballast.v1.HistoryService",
    definition: HistoryServiceService,
    implementation: historyServiceImplementation(history, logger),
  });
}

/** Converts event by event: one that does not convert is a dead letter, not the whole batch's failure. */
function convertEach(wire: WireEvent[]): { events: PublishedEvent[]; refused: DeadLetter[] } {
  const events: PublishedEvent[] = [];
  const refused: DeadLetter[] = [];
  for (const event of wire) {
    try {
      events.push(eventFromWire(event));
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      refused.push({ seq: event.seq, timeMs: event.timeMs, type: event.payload?.$case ?? "", reason: err.message });
    }
  }
  return { events, refused };
}
