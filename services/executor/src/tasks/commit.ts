import { fileURLToPath } from "node:url";
import { describeError, isRetryable } from "@ballast/common/errors";
import { writeFileDurableAsync } from "@ballast/common/durable";
import { attemptPartName, attemptPartPath, discardAttempt, stagingOutputPrefix } from "@ballast/common/jobOutput";
import type { Logger } from "@ballast/common/logging";
import { backoffDelay, sleep } from "@ballast/common/backoff";
import { failure } from "../core/task.js";
import type { StagingPeer } from "./peers.js";

export interface CommitRequest {
  outputUri: string;
  taskId: string;
  partition: number;
  data: Uint8Array;
}

export interface CommitDeps {
  staging: Pick<StagingPeer, "uploadBytes" | "link">;
  /** SchedulerService.AuthorizeCommit: true when this attempt is the one allowed to commit its partition. */
  authorizeCommit(taskId: string): Promise<boolean>;
  logger: Logger;
  signal?: AbortSignal;
}

const AUTHORIZE_ATTEMPTS = 5;

/**
 * Exactly-once output of a text partition (task commit): the attempt writes its
 * data under OUT/_temporary/<taskId>/part-NNNNN and asks the scheduler for
 * permission. An authorized attempt leaves it there: the scheduler promotes it
 * at job commit, once every partition is in (commons' jobOutput.ts). A denied
 * attempt removes what it wrote and fails with commitDenied (another attempt of
 * the partition committed, or the job is over).
 *
 * The write and the question run at once: a reduce task's commit was the two
 * back to back on the stage's critical path. Nothing is promoted before the
 * attempt reports success, after both; an authorized attempt whose write fails
 * fails, and the scheduler then lets another attempt commit (releaseCommit).
 */
export async function commitTextPartition(request: CommitRequest, deps: CommitDeps): Promise<void> {
  if (request.outputUri.startsWith("file://")) return commitToDirectory(request, deps);
  if (request.outputUri.startsWith("staging://")) return commitToStaging(request, deps);
  throw failure("userError", `unsupported output URI ${request.outputUri} (use file:///dir or staging://prefix)`);
}

async function commitToDirectory(request: CommitRequest, deps: CommitDeps): Promise<void> {
  const dir = fileURLToPath(request.outputUri);
  try {
    await bothOrThrow(writeFileDurableAsync(attemptPartPath(dir, request.taskId, request.partition), request.data), authorizeOrThrow(request.taskId, deps));
  } catch (err) {
    discardAttempt(dir, request.taskId); // after the write has settled: nothing recreates the part behind it
    throw err;
  }
}

/**
 * The same protocol in staging's names: the bytes go up without a name in the output (no reader
 * of it sees them), and only an authorized attempt names them PREFIX/_temporary/<taskId>/part-NNNNN, which
 * the scheduler promotes at job commit. A denied attempt (a zombie after the job's end) names nothing.
 */
async function commitToStaging(request: CommitRequest, deps: CommitDeps): Promise<void> {
  let prefix: string;
  try {
    prefix = stagingOutputPrefix(request.outputUri);
  } catch (err) {
    throw failure("userError", (err as Error).message);
  }
  const [blob] = await bothOrThrow(deps.staging.uploadBytes(request.data), authorizeOrThrow(request.taskId, deps));
  await deps.staging.link(attemptPartName(prefix, request.taskId, request.partition), blob.sha256);
}

/** Waits for both to settle (never leaving one running behind a failure), then throws the first failure: the output's, else the authorization's. */
async function bothOrThrow<A, B>(output: Promise<A>, authorization: Promise<B>): Promise<[A, B]> {
  const [written, authorized] = await Promise.allSettled([output, authorization]);
  if (written.status === "rejected") throw written.reason;
  if (authorized.status === "rejected") throw authorized.reason;
  return [written.value, authorized.value];
}

/** Asks the scheduler, retrying a briefly unreachable scheduler with backoff; throws commitDenied when refused. */
async function authorizeOrThrow(taskId: string, deps: CommitDeps): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    deps.signal?.throwIfAborted();
    let allowed: boolean;
    try {
      allowed = await deps.authorizeCommit(taskId);
    } catch (err) {
      if (!isRetryable(err) || attempt >= AUTHORIZE_ATTEMPTS) {
        throw failure("executorError", `could not ask the scheduler to authorize the commit of ${taskId}: ${describeError(err)}`);
      }
      const delayMs = backoffDelay(attempt, { initialMs: 200, maxMs: 5000 });
      deps.logger.warn({ taskId, attempt, delayMs, err: describeError(err) }, "commit authorization failed; retrying");
      await sleep(delayMs, deps.signal);
      continue;
    }
    if (!allowed) throw failure("commitDenied", `commit of ${taskId} denied: another attempt of this partition committed`);
    return;
  }
}
