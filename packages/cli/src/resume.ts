/**
 * What the scheduler recorded of an application, for resuming it: its
 * program, arguments and conf, each action's latest job, the results of the
 * actions that finished (kept in the application's durable record, beyond
 * their jobs' retention), and the job of the next action if it is still
 * running (rejoined, not resubmitted). Replaying the program answers the
 * finished actions from these results without running their jobs again.
 */
import type { RawActionResult } from "ballast";
import type { SchedulerConnection } from "@ballast/clients/scheduler";
import type { ApplicationView } from "@ballast/common/domain/views";
import { isNotFound } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import { applicationFromWire } from "@ballast/common/wire/applications";
import { ExitError } from "./exit.js";
import { summarize, type JobOutcome } from "./outcome.js";

export interface RecordedApplication {
  /** Results of actions 0..n-1, each its latest succeeded job's. */
  results: RawActionResult[];
  /** Where those actions were called, plus the running action's (if any). */
  callSites: string[];
  /** Their jobs, in action order, as the outcome lists them. */
  jobs: JobOutcome[];
  /** The job of action n, still running: the replay rejoins it. */
  running?: { actionIndex: number; jobId: string };
  /** The scheduler's record: the program (bundle digest), its arguments and conf, its state. */
  application: ApplicationView;
}

/** The scheduler's record of the application; undefined when it has none (never registered, or past its retention). */
export async function applicationRecord(scheduler: SchedulerConnection, applicationId: string): Promise<ApplicationView | undefined> {
  try {
    const { application } = await scheduler.withLeader((client) => call(client.getApplicationRecord.bind(client), { applicationId }));
    return application && applicationFromWire(application);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The record, or an exit with the reason there is none. */
export async function requireApplicationRecord(scheduler: SchedulerConnection, applicationId: string): Promise<ApplicationView> {
  const application = await applicationRecord(scheduler, applicationId);
  if (application) return application;
  throw new ExitError(`no application ${applicationId} on this cluster (never registered, or ended longer ago than ballast.scheduler.applicationRetention)`, 2);
}

export function recordedApplication(application: ApplicationView): RecordedApplication {
  const recorded: RecordedApplication = { results: [], callSites: [], jobs: [], application };
  for (const [index, view] of application.actions.entries()) {
    if (view.action?.index !== index) return recorded; // a gap: the replay goes on from there
    if (view.status === "succeeded") {
      const outcome = summarize(view, 0);
      recorded.results.push(rawResultOf(outcome));
      recorded.callSites.push(view.action.callSite);
      recorded.jobs.push(outcome);
      continue;
    }
    if (view.status === "running") {
      recorded.running = { actionIndex: index, jobId: view.jobId };
      recorded.callSites.push(view.action.callSite);
    }
    return recorded;
  }
  return recorded;
}

/** What an action's job returned, as the driver program's replay takes it. */
export function rawResultOf(outcome: JobOutcome): RawActionResult {
  return { records: outcome.records, count: outcome.count, outputUri: outcome.outputUri };
}
