import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeError, isRetryable } from "@ballast/common/errors";
import { commitFile, writeFileDurable } from "@ballast/common/durable";
import type { Logger } from "@ballast/common/logging";
import { backoffDelay, sleep } from "@ballast/common/backoff";
import { failure, partFileName } from "../core/task.js";
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
 * Exactly-once output of a text partition: the attempt writes its data under a
 * temporary name, asks the scheduler for permission, and only then moves it to
 * part-NNNNN. A denied attempt removes what it wrote and fails with
 * commitDenied (another attempt of the partition committed).
 */
export async function commitTextPartition(request: CommitRequest, deps: CommitDeps): Promise<void> {
  if (request.outputUri.startsWith("file://")) return commitToDirectory(request, deps);
  if (request.outputUri.startsWith("staging://")) return commitToStaging(request, deps);
  throw failure("userError", `unsupported output URI ${request.outputUri} (use file:///dir or staging://prefix)`);
}

async function commitToDirectory(request: CommitRequest, deps: CommitDeps): Promise<void> {
  const dir = fileURLToPath(request.outputUri);
  const attemptDir = join(dir, "_temporary", request.taskId);
  const name = partFileName(request.partition);
  const tempPath = join(attemptDir, name);
  try {
    writeFileDurable(tempPath, request.data);
    await authorizeOrThrow(request.taskId, deps);
    commitFile(tempPath, join(dir, name));
  } finally {
    rmSync(attemptDir, { recursive: true, force: true });
  }
}

async function commitToStaging(request: CommitRequest, deps: CommitDeps): Promise<void> {
  const prefix = request.outputUri.slice("staging://".length).replace(/\/+$/, "");
  // Unnamed blobs are invisible to readers until linked; a denied attempt's blob has no name.
  const blob = await deps.staging.uploadBytes(request.data);
  await authorizeOrThrow(request.taskId, deps);
  await deps.staging.link(prefix ? `${prefix}/${partFileName(request.partition)}` : partFileName(request.partition), blob.sha256);
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
