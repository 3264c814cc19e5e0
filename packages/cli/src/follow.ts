/**
 * `ballast attach APP_ID` of a detached application: its driver runs inside
 * the cluster, so this command only follows it — each action's job as it
 * runs, and where the driver runs when the scheduler places it (again) —
 * until the application ends. It never submits a job.
 */
import type { SchedulerConnection } from "@ballast/clients/scheduler";
import type { ApplicationView } from "@ballast/common/domain/views";
import { ProgressView } from "./progress.js";
import { requireApplicationRecord } from "./resume.js";
import { watchJob } from "./watch.js";

const POLL_MS = 300;

/** Follows the application to its end and returns its final record. */
export async function followApplication(scheduler: SchedulerConnection, applicationId: string, progress: NodeJS.WritableStream): Promise<ApplicationView> {
  progress.write(`application ${applicationId} runs detached in the cluster; following it (Ctrl-C stops following, the application goes on)\n`);
  let shownAttempt = 0;
  const watched = new Set<string>();
  for (;;) {
    const application = await requireApplicationRecord(scheduler, applicationId);
    shownAttempt = noteDriver(application, shownAttempt, progress);
    if (application.status !== "running") return application;
    const running = application.actions.find((job) => job.status === "running" && !watched.has(job.jobId));
    if (running) {
      watched.add(running.jobId);
      const index = running.action?.index ?? application.actions.indexOf(running);
      await watchJob(scheduler, running.jobId, new ProgressView(progress, `action #${index + 1}: ${running.jobId}`));
    } else {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

/** A line whenever the driver has a new placement (and why it needed one). */
function noteDriver(application: ApplicationView, shownAttempt: number, progress: NodeJS.WritableStream): number {
  const driver = application.driver;
  if (!driver || driver.attempt === shownAttempt || !driver.executorId) return shownAttempt;
  const why = driver.attempt > 1 && driver.lastFailure ? ` (after: ${driver.lastFailure})` : "";
  progress.write(`driver attempt ${driver.attempt} running on executor ${driver.executorId}${why}\n`);
  return driver.attempt;
}
