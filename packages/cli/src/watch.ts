import type { JobInfo } from "@ballast/gen/common";
import type { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { leaderMayHaveMoved, type SchedulerConnection } from "@ballast/clients/scheduler";
import { describeError } from "@ballast/common/errors";
import type { JobView } from "@ballast/common/domain/views";
import { jobFromWire } from "@ballast/common/wire/jobs";
import type { ProgressView } from "./progress.js";

/** Watches a job to its end, following the leader across scheduler failovers (`submit` and `watch`). */
export async function watchJob(scheduler: SchedulerConnection, jobId: string, view: ProgressView): Promise<JobView> {
  for (;;) {
    const client = await scheduler.leader();
    const outcome = await watchOnce(client, jobId, view);
    if (outcome.job && outcome.job.status !== "running") {
      view.finish();
      return outcome.job;
    }
    if (outcome.error && !leaderMayHaveMoved(outcome.error)) throw outcome.error;
    // The stream ended or broke while the job runs: the scheduler went away. Find the new leader.
    view.note(`lost the scheduler (${outcome.error ? describeError(outcome.error) : "stream ended"}); reconnecting...`);
    scheduler.reset();
  }
}

function watchOnce(client: InstanceType<typeof SchedulerServiceClient>, jobId: string, view: ProgressView): Promise<{ job?: JobView; error?: unknown }> {
  return new Promise((resolvePromise) => {
    let last: JobView | undefined;
    const stream = client.watchJob({ jobId });
    stream.on("data", (res: { job?: JobInfo }) => {
      if (!res.job) return;
      try {
        last = jobFromWire(res.job);
      } catch (error) {
        // A job this CLI cannot read (an unknown status from a newer scheduler): stop watching, say why.
        stream.cancel();
        resolvePromise({ job: last, error });
        return;
      }
      view.update(last);
    });
    stream.on("error", (error) => resolvePromise({ job: last, error }));
    stream.on("end", () => resolvePromise({ job: last }));
  });
}
