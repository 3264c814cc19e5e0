import { HistoryServiceService, type HistoryServiceServer } from "@ballast/gen/history";
import { unary, type ServiceBinding } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { withSpan } from "@ballast/common/telemetry";
import { eventFromWire, eventToWire } from "@ballast/common/wire/events";
import { executorToWire } from "@ballast/common/wire/resources";
import type { History } from "../history.js";
import { applicationToWire, jobToWire, stageToWire, taskToWire } from "./summaries.js";

/** The gRPC face of history: wire in, domain through History, wire out. */
export function historyServiceImplementation(history: History, logger?: Logger): HistoryServiceServer {
  return {
    publishEvents: unary(async (request) => {
      const events = request.events.map(eventFromWire);
      const attributes = { "ballast.application_id": request.applicationId, "ballast.events": events.length };
      return withSpan("history.publish", attributes, async (span) => {
        const result = await history.publish(request.applicationId, events);
        span.setAttribute("ballast.events_inserted", result.inserted);
        logger?.debug({ applicationId: request.applicationId, received: events.length, ...result }, "events published");
        return { ackedSeq: result.ackedSeq };
      });
    }),
    listApplications: unary(async () => ({ applications: (await history.listApplications()).map(applicationToWire) })),
    getApplication: unary(async (request) => ({ application: applicationToWire(await history.getApplication(request.applicationId)) })),
    listJobSummaries: unary(async (request) => ({ jobs: (await history.listJobs(request.applicationId, request.driverApplicationId)).map(jobToWire) })),
    getJobSummary: unary(async (request) => ({ job: jobToWire(await history.getJob(request.applicationId, request.jobId)) })),
    listStages: unary(async (request) => ({ stages: (await history.listStages(request.applicationId, request.jobId)).map(stageToWire) })),
    listTasks: unary(async (request) => ({ tasks: (await history.listTasks(request.applicationId, request.jobId)).map(taskToWire) })),
    listExecutorHistory: unary(async (request) => ({ executors: (await history.listExecutors(request.applicationId)).map(executorToWire) })),
    listEvents: unary(async (request) => {
      const { applicationId, jobId, afterSeq, limit } = request;
      return { events: (await history.listEvents(applicationId, { jobId, afterSeq, limit })).map(eventToWire) };
    }),
  };
}

export function historyServiceBinding(history: History, logger?: Logger): ServiceBinding {
  return {
    name: "ballast.v1.HistoryService",
    definition: HistoryServiceService,
    implementation: historyServiceImplementation(history, logger),
  };
}
