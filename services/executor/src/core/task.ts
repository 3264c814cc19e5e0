/**
 * The executor's own task helpers. The vocabulary of launches and updates
 * (shared with the scheduler) is @ballast/common/domain/tasks.
 */
import type { FailureKind, ReportedTaskFailure } from "@ballast/common/domain/tasks";

/** A task ends in exactly one of these; the runner turns any thrown TaskFailure into a failed update. */
export class TaskFailure extends Error {
  constructor(readonly info: ReportedTaskFailure) {
    super(info.message);
    this.name = "TaskFailure";
  }
}

export function failure(kind: FailureKind, message: string, extra: Partial<ReportedTaskFailure> = {}): TaskFailure {
  return new TaskFailure({ kind, message, stack: "", errorKind: ERROR_KINDS[kind], ...extra });
}

const ERROR_KINDS: Record<FailureKind, string> = {
  userError: "user_error",
  fetchFailed: "fetch_failed",
  executorError: "executor_error",
  commitDenied: "commit_denied",
  killed: "killed",
};

/** Part file name of a partition: part-00007. */
export { partFileName } from "@ballast/common/jobOutput";
