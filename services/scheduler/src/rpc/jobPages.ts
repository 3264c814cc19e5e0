// ListJobs pages: a scheduler that has run many jobs never answers with one message too big to send.
import { JobInfo } from "@ballast/gen/common";
import type { ListJobsRequest, ListJobsResponse } from "@ballast/gen/scheduler";
import { fillPage, indexAfter, pageSizeOf, type PageItemCodec } from "@ballast/common/paging";
import { jobToWire } from "@ballast/common/wire/jobs";
import type { JobView } from "../core/types.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const JOB_PAGES: PageItemCodec<JobView, JobInfo> = {
  toWire: jobToWire,
  encodedBytes: (info) => JobInfo.encode(info).finish().length,
  keyOf: (job) => job.jobId,
};

/** One page of jobs in the scheduler's order; the token is the last job id of the previous page (a job's view always fits a message: its collect result is bounded). */
export function jobPage(jobs: JobView[], request: Pick<ListJobsRequest, "pageSize" | "pageToken">): ListJobsResponse {
  const size = pageSizeOf(request.pageSize, { default: DEFAULT_PAGE_SIZE, max: MAX_PAGE_SIZE });
  const page = fillPage(jobs, indexAfter(jobs, request.pageToken, JOB_PAGES.keyOf), size, JOB_PAGES);
  return { jobs: page.items, nextPageToken: page.nextPageToken };
}
