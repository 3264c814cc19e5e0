/**
 * The scheduler's side of job-level output commit (the shell's I/O for the
 * core's commitJobOutput and abortJobOutput commands), as Hadoop's job
 * committer does in its application master. file:// outputs are promoted in
 * the filesystem; staging://PREFIX outputs with one StagingService.Promote (a
 * metadata transaction in staging), using the scheduler's cluster credentials
 * in the space of the job's owner.
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { userSpacePrefix } from "@ballast/common/auth";
import { abortJobDirectory, commitJobDirectory, stagingAbortPromotion, stagingCommitPromotion, stagingOutputPrefix } from "@ballast/common/jobOutput";
import type { StagingClient } from "@ballast/clients/staging";
import type { Command } from "./core/types.js";

export type CommitOutputCommand = Extract<Command, { type: "commitJobOutput" }>;
export type AbortOutputCommand = Extract<Command, { type: "abortJobOutput" }>;

/** What the scheduler needs of staging: the empty _SUCCESS blob, and the promotion. */
export type StagingPromoter = Pick<StagingClient, "uploadBytes" | "promote">;

const EMPTY = new Uint8Array(0);
const EMPTY_SHA256 = createHash("sha256").update(EMPTY).digest("hex");

export class JobOutputs {
  /** `staging`: undefined when the scheduler was started without --staging (staging outputs then fail clearly). */
  constructor(
    private readonly staging: StagingPromoter | undefined,
    /** Makes commit ids unique across schedulers sharing a staging service. */
    private readonly applicationId: string,
  ) {}

  /** Throws (with a reason for the job's error) when the output cannot be made valid. Idempotent: a failover may run it again. */
  async commit({ jobId, outputUri, parts, owner }: CommitOutputCommand): Promise<void> {
    if (outputUri.startsWith("file://")) return commitJobDirectory(fileURLToPath(outputUri), parts);
    if (!outputUri.startsWith("staging://")) return;
    const staging = this.stagingOrThrow(outputUri);
    await staging.uploadBytes(EMPTY);
    const promotion = stagingCommitPromotion(spaceName(owner, stagingOutputPrefix(outputUri)), parts, EMPTY_SHA256);
    await staging.promote({ commitId: `${this.applicationId}/${jobId}`, ...promotion });
  }

  /** Best effort: an output left behind is invalid anyway (no _SUCCESS). */
  async abort({ outputUri, owner }: AbortOutputCommand): Promise<void> {
    if (outputUri.startsWith("file://")) return abortJobDirectory(fileURLToPath(outputUri));
    if (!outputUri.startsWith("staging://")) return;
    await this.stagingOrThrow(outputUri).promote({ commitId: "", ...stagingAbortPromotion(spaceName(owner, stagingOutputPrefix(outputUri))) });
  }

  private stagingOrThrow(outputUri: string): StagingPromoter {
    if (!this.staging) throw new Error(`the scheduler has no staging service to commit ${outputUri} (start it with --staging HOST:PORT)`);
    return this.staging;
  }
}

/** A job's staging:// names live in its owner's space; jobs the cluster submitted name the store directly. */
function spaceName(owner: string | undefined, name: string): string {
  return owner ? `${userSpacePrefix(owner)}${name}` : name;
}
