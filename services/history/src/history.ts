import { InvalidArgumentError, NotFoundError, requireValid } from "@ballast/common/errors";
import type { PublishedEvent } from "@ballast/common/domain/events";
import type {
  ApplicationSummary,
  ExecutorSummary,
  FailoverSummary,
  JobSummary,
  NodeSummary,
  StageSummary,
  TaskSummary,
} from "./core/summaries.js";
import { checkEvent, checkId, checkSeq } from "./core/validate.js";
import type { DeadLetter, HistoryStore, PublishResult } from "./store/store.js";

export const DEFAULT_EVENT_LIMIT = 1000;
export const MAX_EVENT_LIMIT = 10_000;

export interface EventOptions {
  jobId?: string;
  afterSeq?: number;
  limit?: number;
}

/**
 * What both front doors (gRPC in rpc/, JSON in http/) do: validate, then ask
 * the store, turning unknown ids into NotFoundError and bad input into
 * InvalidArgumentError, so both report the same problems the same way.
 */
export class History {
  constructor(readonly store: HistoryStore) {}

  /**
   * Stores the valid events; the others (those `refused` already by the wire
   * conversion, and those breaking a limit) become dead letters: recorded,
   * counted and acknowledged, so one bad event never blocks those behind it.
   * Only what cannot be keyed at all (the application id, a seq) refuses the batch.
   */
  async publish(applicationId: string, events: PublishedEvent[], refused: DeadLetter[] = []): Promise<PublishResult & { deadLetters: DeadLetter[] }> {
    requireValid(checkId("application_id", applicationId) ?? [...events, ...refused].map((e) => checkSeq(e.seq)).find(Boolean));
    const stored: PublishedEvent[] = [];
    const deadLetters = [...refused];
    for (const event of events) {
      const problem = checkEvent(event);
      if (problem) deadLetters.push({ seq: event.seq, timeMs: event.timeMs, type: event.body.type, reason: problem });
      else stored.push(event);
    }
    return { ...(await this.store.publish(applicationId, stored, deadLetters)), deadLetters };
  }

  async listDeadLetters(applicationId: string): Promise<DeadLetter[]> {
    await this.getApplication(applicationId);
    return this.store.listDeadLetters(applicationId);
  }

  listApplications(): Promise<ApplicationSummary[]> {
    return this.store.listApplications();
  }

  async getApplication(applicationId: string): Promise<ApplicationSummary> {
    requireValid(checkId("application_id", applicationId));
    const application = await this.store.getApplication(applicationId);
    if (!application) throw new NotFoundError(`unknown application "${applicationId}"`);
    return application;
  }

  /**
   * The application a job id belongs to, for links that know only the job (`ballast submit` prints
   * one): job ids repeat across applications, so the most recently active one holding it wins.
   */
  async findJobApplication(jobId: string): Promise<string> {
    requireValid(checkId("job_id", jobId));
    const applications = (await this.store.listApplications()).sort((a, b) => b.lastEventMs - a.lastEventMs);
    for (const { applicationId } of applications) {
      if (await this.store.getJob(applicationId, jobId)) return applicationId;
    }
    throw new NotFoundError(`no application has a job "${jobId}"`);
  }

  async listJobs(applicationId: string, driverApplicationId = ""): Promise<JobSummary[]> {
    await this.getApplication(applicationId);
    return this.store.listJobs(applicationId, driverApplicationId);
  }

  async getJob(applicationId: string, jobId: string): Promise<JobSummary> {
    await this.getApplication(applicationId);
    requireValid(checkId("job_id", jobId));
    const job = await this.store.getJob(applicationId, jobId);
    if (!job) throw new NotFoundError(`unknown job "${jobId}" in application "${applicationId}"`);
    return job;
  }

  async listStages(applicationId: string, jobId: string): Promise<StageSummary[]> {
    await this.getJob(applicationId, jobId);
    return this.store.listStages(applicationId, jobId);
  }

  async listTasks(applicationId: string, jobId: string): Promise<TaskSummary[]> {
    await this.getJob(applicationId, jobId);
    return this.store.listTasks(applicationId, jobId);
  }

  async listExecutors(applicationId: string): Promise<ExecutorSummary[]> {
    await this.getApplication(applicationId);
    return this.store.listExecutors(applicationId);
  }

  async listNodes(applicationId: string): Promise<NodeSummary[]> {
    await this.getApplication(applicationId);
    return this.store.listNodes(applicationId);
  }

  async listFailovers(applicationId: string): Promise<FailoverSummary[]> {
    await this.getApplication(applicationId);
    return this.store.listFailovers(applicationId);
  }

  /** Events after `afterSeq` in seq order, at most `limit` (0 means the default); only `jobId`'s when given. */
  listEvents(applicationId: string, options: EventOptions): Promise<PublishedEvent[]> {
    return this.readEvents(applicationId, options, 0);
  }

  /** listEvents with one event beyond `limit` when there is one: a pager's look-ahead, to know whether another page follows. */
  listEventsAndOneMore(applicationId: string, options: EventOptions): Promise<PublishedEvent[]> {
    return this.readEvents(applicationId, options, 1);
  }

  private async readEvents(applicationId: string, options: EventOptions, lookAhead: number): Promise<PublishedEvent[]> {
    const { jobId = "", afterSeq = 0, limit = 0 } = options;
    if (jobId !== "") await this.getJob(applicationId, jobId);
    else await this.getApplication(applicationId);
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new InvalidArgumentError(`after_seq must be a non-negative integer`);
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_EVENT_LIMIT) {
      throw new InvalidArgumentError(`limit must be between 1 and ${MAX_EVENT_LIMIT} (0 means ${DEFAULT_EVENT_LIMIT})`);
    }
    return this.store.listEvents(applicationId, { jobId, afterSeq, limit: (limit || DEFAULT_EVENT_LIMIT) + lookAhead });
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
