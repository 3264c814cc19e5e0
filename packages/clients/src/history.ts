import type { Event } from "@ballast/gen/events";
import type { HistoryServiceClient, TaskSummary } from "@ballast/gen/history";
import { call } from "@ballast/common/grpc";
import { allPages } from "@ballast/common/paging";

type Client = InstanceType<typeof HistoryServiceClient>;

/** Every event of an application (only `jobId`'s when given) after `afterSeq`, page by page. */
export function allEvents(client: Client, applicationId: string, options: { jobId?: string; afterSeq?: number; pageSize?: number } = {}): Promise<Event[]> {
  const { jobId = "", afterSeq = 0, pageSize = 0 } = options;
  return allPages(async (pageToken) => {
    const page = await call(client.listEvents.bind(client), { applicationId, jobId, afterSeq, limit: 0, pageSize, pageToken });
    return { items: page.events, nextPageToken: page.nextPageToken };
  });
}

/** Every task of a job, page by page. */
export function allTasks(client: Client, applicationId: string, jobId: string, pageSize = 0): Promise<TaskSummary[]> {
  return allPages(async (pageToken) => {
    const page = await call(client.listTasks.bind(client), { applicationId, jobId, pageSize, pageToken });
    return { items: page.tasks, nextPageToken: page.nextPageToken };
  });
}
