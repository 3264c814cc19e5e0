/**
 * Job-level output commit invariants (saveAsTextFile): each partition the job
 * commit promotes was authorized to its task, nothing is authorized once the
 * job commit has been asked for (a zombie cannot change a committed output),
 * and the job succeeds only through a job commit.
 */
import type { Command, JobView } from "../src/core/types.js";

export class OutputCommitChecks {
  /** Task id -> the partition its launch named. */
  private readonly partitionOf = new Map<string, number>();
  /** Partition -> task ids that were ever authorized to commit it. */
  private readonly authorized = new Map<number, Set<string>>();
  private jobCommitRequested = false;

  constructor(
    private readonly jobId: string,
    private readonly violation: (message: string) => void,
  ) {}

  /** The checked job's commands only (a warm-up action before it commits its own output). */
  after(commands: Command[]): void {
    for (const command of commands) {
      if (command.type === "launchTask" && command.task.jobId === this.jobId) this.partitionOf.set(command.task.taskId, command.task.partition);
      if (command.type === "commitDecision" && command.allowed && this.partitionOf.has(command.taskId)) this.onAuthorized(command.taskId);
      if (command.type === "commitJobOutput" && command.jobId === this.jobId) this.onJobCommit(command.parts);
    }
  }

  outcome(view: JobView, action: string): void {
    if (action !== "saveAsTextFile") return;
    if (view.status === "succeeded" && !this.jobCommitRequested) this.violation("a saveAsTextFile job succeeded without a job commit");
  }

  private onAuthorized(taskId: string): void {
    if (this.jobCommitRequested) this.violation(`task ${taskId} was authorized to commit after the job commit began`);
    const partition = this.partitionOf.get(taskId)!;
    if (!this.authorized.has(partition)) this.authorized.set(partition, new Set());
    this.authorized.get(partition)!.add(taskId);
  }

  private onJobCommit(parts: string[]): void {
    this.jobCommitRequested = true;
    parts.forEach((taskId, partition) => {
      if (!this.authorized.get(partition)?.has(taskId)) this.violation(`job commit promotes partition ${partition} from ${taskId}, which was never authorized for it`);
    });
  }
}
