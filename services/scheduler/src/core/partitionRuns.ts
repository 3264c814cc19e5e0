/**
 * The per-partition run records of a stage attempt and its launch queue: the
 * one primitive that both task outcomes and map output losses use to put a
 * partition back in line. Changes only the attempt's queue; raises nothing.
 */
import { activeAttempt, hasOutput, type JobState, type PartitionRun, type StageAttempt, type StageState } from "./state.js";

export function newRun(): PartitionRun {
  return { state: "pending", failures: 0, losses: 0, failedExecutors: [], failedNodes: [] };
}

/** Puts a partition of a running attempt back in line (after a failure or loss); false if it needs no run. */
export function requeue(job: JobState, stage: StageState, partition: number): boolean {
  const attempt = activeAttempt(stage);
  if (!attempt || hasOutput(job, stage, partition)) return false;
  let run = attempt.runs.get(partition);
  if (run?.state === "pending" || run?.state === "running") return false;
  if (!run) {
    run = newRun();
    attempt.runs.set(partition, run);
    attempt.partitions.push(partition);
  }
  run.state = "pending";
  attempt.retries.push(partition);
  return true;
}

export function setRunState(attempt: StageAttempt, partition: number, state: PartitionRun["state"]): void {
  const run = attempt.runs.get(partition);
  if (run) run.state = state;
}
