/**
 * What the scheduler recorded of an application, for resuming it: its jobs
 * by action, the results of the actions that finished (the scheduler keeps
 * them durably, in its log), and the job of the next action if it is still
 * running (rejoined, not resubmitted). Replaying the program answers the
 * finished actions from these results without running their jobs again.
 */
import type { RawActionResult } from "ballast";
import type { SchedulerConnection } from "@ballast/clients/scheduler";
import type { JobView } from "@ballast/common/domain/views";
import { jobFromWire } from "@ballast/common/wire/jobs";
import { allJobs } from "./commands/inspect.js";
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
  /** The program the application runs (the first job's bundle and arguments). */
  bundleDigest: string;
  args: string[];
}

export async function recordedApplication(scheduler: SchedulerConnection, applicationId: string): Promise<RecordedApplication> {
  const jobs = await scheduler.withLeader((client) => allJobs(client, applicationId));
  const views = jobs.map(jobFromWire).filter((view) => view.action !== undefined);
  const recorded: RecordedApplication = { results: [], callSites: [], jobs: [], bundleDigest: views[0]?.bundleDigest ?? "", args: views[0]?.args ?? [] };
  for (let index = 0; ; index++) {
    const attempts = views.filter((view) => view.action!.index === index);
    const succeeded = attempts.filter((view) => view.status === "succeeded").pop();
    if (succeeded) {
      const outcome = summarize(succeeded, 0);
      recorded.results.push(rawResultOf(outcome));
      recorded.callSites.push(succeeded.action!.callSite);
      recorded.jobs.push(outcome);
      continue;
    }
    const running = attempts.find((view: JobView) => view.status === "running");
    if (running) {
      recorded.running = { actionIndex: index, jobId: running.jobId };
      recorded.callSites.push(running.action!.callSite);
    }
    return recorded;
  }
}

/** What an action's job returned, as the driver program's replay takes it. */
export function rawResultOf(outcome: JobOutcome): RawActionResult {
  return { records: outcome.records, count: outcome.count, outputUri: outcome.outputUri };
}
