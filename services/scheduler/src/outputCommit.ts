/**
 * The scheduler's side of job-level output commit (the shell's I/O for the
 * core's commitJobOutput and abortJobOutput commands). file:// outputs are
 * promoted here, as Hadoop's job committer does in its application master;
 * staging:// parts are named by their task's commit (the scheduler has no
 * staging connection), so their job commit has nothing left to do.
 */
import { fileURLToPath } from "node:url";
import { abortJobDirectory, commitJobDirectory } from "@ballast/common/jobOutput";

/** Throws (with a reason for the job's error) when the output cannot be made valid. */
export function commitJobOutput(outputUri: string, parts: string[]): void {
  if (outputUri.startsWith("file://")) commitJobDirectory(fileURLToPath(outputUri), parts);
}

/** Best effort: an output left behind is invalid anyway (no _SUCCESS). */
export function abortJobOutput(outputUri: string): void {
  if (outputUri.startsWith("file://")) abortJobDirectory(fileURLToPath(outputUri));
}
