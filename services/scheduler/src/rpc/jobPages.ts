// ListJobs pages: a scheduler that has run many jobs never answers with one message too big to send.
import { JobInfo } from "@ballast/gen/common";
import type { ListJobsRequest, ListJobsResponse } from "@ballast/gen/scheduler";
import { InvalidArgumentError } from "@ballast/common/errors";
import { MAX_MESSAGE_BYTES } from "@ballast/common/grpc";
import { integerProblem } from "@ballast/common/limits";
import { jobToWire } from "@ballast/common/wire/jobs";
import type { JobView } from "../core/types.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** A page ends before its jobs' encoded size passes this, so it always fits one message. */
const PAGE_BYTES = MAX_MESSAGE_BYTES / 2;

/**
 * One page of jobs in the scheduler's order. The token is the last job id of
 * the previous page (opaque to clients); a page holds at least one job, and a
 * job's view always fits a message (its collect result is bounded).
 */
export function jobPage(jobs: JobView[], request: Pick<ListJobsRequest, "pageSize" | "pageToken">): ListJobsResponse {
  const problem = integerProblem("page_size", request.pageSize, 0, MAX_PAGE_SIZE);
  if (problem) throw new InvalidArgumentError(problem);
  const size = request.pageSize || DEFAULT_PAGE_SIZE;
  const start = request.pageToken ? jobs.findIndex((job) => job.jobId === request.pageToken) + 1 : 0;
  if (start === 0 && request.pageToken) throw new InvalidArgumentError(`page_token ${JSON.stringify(request.pageToken.slice(0, 80))} is not from a previous page`);
  const page: JobInfo[] = [];
  let bytes = 0;
  for (let i = start; i < jobs.length && page.length < size; i++) {
    const info = jobToWire(jobs[i]!);
    bytes += JobInfo.encode(info).finish().length;
    if (page.length > 0 && bytes > PAGE_BYTES) break;
    page.push(info);
  }
  const last = start + page.length;
  return { jobs: page, nextPageToken: last < jobs.length ? jobs[last - 1]!.jobId : "" };
}
