import { open, type FileHandle } from "node:fs/promises";
import { existsSync, rmSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { UploadBusyError } from "@ballast/common/errors";
import { validateName, validatePrefix, validatePromotion, validateSha256, type BlobRef, type ByteRange } from "../core/names.js";
import type { BlobStore, OpenedUpload, StoredBlob, UploadRequest, UploadStatus } from "./blob-store.js";
import { DataLayout, isNotFound } from "./layout.js";
import { StagingMetadata, type BlobRow, type Promotion } from "./metadata.js";
import { recoverStore, type RecoveryReport } from "./recovery.js";
import { LocalUploadSink } from "./upload-sink.js";

export interface LocalBlobStoreOptions {
  dataDir: string;
  logger?: Logger;
  /** fsync (and advance the committed offset) after this many new bytes; default 4 MiB. */
  syncEveryBytes?: number;
}

const DEFAULT_SYNC_EVERY_BYTES = 4 * 1024 * 1024;
/** How long an applied promotion is remembered: a scheduler retries its commit within minutes, not days. */
const PROMOTION_MEMORY_MS = 7 * 24 * 3600_000;

/** Blobs as files under DATA_DIR/blobs, metadata in DATA_DIR/staging.sqlite. */
export interface GarbagePolicy {
  abandonedUploadMs: number;
  unnamedBlobMs: number;
  /** Job bundles (`ballast submit` names them bundles/<sha256>.mjs) not uploaded again for this long; 0: kept. */
  bundleMs: number;
}

/**
 * The names `ballast submit` gives job bundles (packages/cli/src/session.ts), in the cluster's
 * space or a user's: nobody else reads them once their jobs ended, and each change to a job's
 * code adds one, so they would pile up forever. A resubmission uploads the bundle again, which
 * renews its name.
 */
const BUNDLE_NAME = /^(?:users\/[^/]+\/)?bundles\/[0-9a-f]{64}\.mjs$/;

export class LocalBlobStore implements BlobStore {
  private readonly activeUploads = new Set<string>();

  private constructor(
    private readonly layout: DataLayout,
    private readonly metadata: StagingMetadata,
    private readonly syncEveryBytes: number,
    private readonly logger: Logger | undefined,
    readonly recovery: RecoveryReport,
  ) {}

  /** Opens the store, repairing whatever a crash left behind. */
  static open(options: LocalBlobStoreOptions): LocalBlobStore {
    const layout = new DataLayout(options.dataDir);
    const metadata = new StagingMetadata(layout.databasePath);
    const recovery = recoverStore(layout, metadata, options.logger);
    return new LocalBlobStore(layout, metadata, options.syncEveryBytes ?? DEFAULT_SYNC_EVERY_BYTES, options.logger, recovery);
  }

  async uploadStatus(sha256: string): Promise<UploadStatus> {
    validateSha256(sha256);
    const blob = this.metadata.blob(sha256);
    if (blob) return { committedOffset: blob.size, complete: true };
    return { committedOffset: this.metadata.upload(sha256)?.committedOffset ?? 0, complete: false };
  }

  async openUpload(request: UploadRequest): Promise<OpenedUpload> {
    const { sha256, size, offset, name } = validateUploadRequest(request);
    const existing = this.metadata.blob(sha256);
    if (existing) return { kind: "exists", blob: this.linkExisting(existing, size, name) };
    if (this.activeUploads.has(sha256)) throw new UploadBusyError(`an upload of ${sha256} is already in progress`);
    this.activeUploads.add(sha256);
    try {
      const { handle, committedOffset } = await this.openPartial(sha256, size);
      if (offset !== committedOffset) {
        await handle.close();
        throw new FailedPreconditionError(`resume from offset ${committedOffset} (upload of ${sha256} has ${committedOffset} bytes committed, got offset ${offset})`);
      }
      const context = {
        layout: this.layout,
        metadata: this.metadata,
        syncEveryBytes: this.syncEveryBytes,
        removeBlobFiles: (sha256s: string[]) => this.removeBlobFiles(sha256s),
        release: () => this.activeUploads.delete(sha256),
      };
      return { kind: "open", sink: new LocalUploadSink(context, handle, sha256, size, committedOffset, name) };
    } catch (err) {
      this.activeUploads.delete(sha256);
      throw err;
    }
  }

  async stat(ref: BlobRef): Promise<StoredBlob> {
    if ("name" in ref) {
      const named = this.metadata.named(validateName(ref.name));
      if (!named) throw new NotFoundError(`no blob named ${JSON.stringify(ref.name)}`);
      return named;
    }
    const blob = this.metadata.blob(validateSha256(ref.sha256));
    if (!blob) throw new NotFoundError(`no blob with sha256 ${ref.sha256}`);
    return { name: "", ...blob };
  }

  async *read(sha256: string, range: ByteRange, chunkBytes: number): AsyncIterable<Uint8Array> {
    const handle = await this.openBlob(validateSha256(sha256));
    try {
      for (let position = range.start; position < range.end; ) {
        const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, range.end - position));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) throw new DataLossError(`blob ${sha256} is shorter than its recorded size`);
        position += bytesRead;
        yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async list(prefix: string): Promise<StoredBlob[]> {
    return this.metadata.list(validatePrefix(prefix));
  }

  async isNamedUnder(prefix: string, sha256: string): Promise<boolean> {
    return this.metadata.isNamedUnder(validatePrefix(prefix), validateSha256(sha256));
  }

  async delete(name: string): Promise<boolean> {
    const { deleted, unreferenced } = this.metadata.deleteName(validateName(name));
    this.removeBlobFiles(unreferenced);
    return deleted;
  }

  async link(name: string, sha256: string): Promise<StoredBlob> {
    validateName(name);
    const blob = this.metadata.blob(validateSha256(sha256));
    if (!blob) throw new NotFoundError(`no blob with sha256 ${sha256}`);
    this.removeBlobFiles(this.metadata.linkName(name, sha256));
    return { name, ...blob };
  }

  async promote(promotion: Promotion): Promise<{ alreadyApplied: boolean; removed: number }> {
    const outcome = this.metadata.promote(validatePromotion(promotion), Date.now());
    if (outcome.alreadyApplied) return { alreadyApplied: true, removed: 0 };
    this.removeBlobFiles(outcome.unreferenced);
    return { alreadyApplied: false, removed: outcome.removed };
  }

  /**
   * Removes what nobody will read: uploads not written to for `policy.abandonedUploadMs`
   * (never finished), job bundles not uploaded again for `policy.bundleMs` (their blob goes when
   * no other name points at it), and blobs without a name stored more than `policy.unnamedBlobMs` ago.
   */
  collectGarbage(policy: GarbagePolicy, nowMs = Date.now()): { uploads: number; bundles: number; blobs: number } {
    let uploads = 0;
    for (const { sha256 } of this.metadata.allUploads()) {
      if (this.activeUploads.has(sha256)) continue;
      const path = this.layout.partialPath(sha256);
      const lastWriteMs = existsSync(path) ? statSync(path).mtimeMs : 0;
      if (nowMs - lastWriteMs < policy.abandonedUploadMs) continue;
      rmSync(path, { force: true });
      this.metadata.deleteUpload(sha256);
      uploads++;
    }
    this.metadata.forgetPromotionsBefore(nowMs - PROMOTION_MEMORY_MS);
    const bundles = this.retireBundles(policy.bundleMs, nowMs);
    const unnamed = this.metadata.unnamedBlobsBefore(nowMs - policy.unnamedBlobMs);
    for (const sha256 of unnamed) this.metadata.forgetBlob(sha256);
    this.removeBlobFiles(unnamed);
    return { uploads, bundles, blobs: unnamed.length };
  }

  private retireBundles(bundleMs: number, nowMs: number): number {
    if (bundleMs <= 0) return 0;
    const stale = this.metadata.namesPointedBefore(nowMs - bundleMs).filter((name) => BUNDLE_NAME.test(name));
    for (const name of stale) this.removeBlobFiles(this.metadata.deleteName(name).unreferenced);
    return stale.length;
  }

  /** Closes the database once running uploads have settled (they commit their progress on the way out). */
  async close(settleMs = 2000): Promise<void> {
    for (const deadline = Date.now() + settleMs; this.activeUploads.size > 0 && Date.now() < deadline; ) await sleep(10);
    this.metadata.close();
  }

  private linkExisting(blob: BlobRow, size: number, name: string | undefined): StoredBlob {
    if (blob.size !== size) {
      throw new InvalidArgumentError(`blob ${blob.sha256} is stored with size ${blob.size}, not ${size}`);
    }
    if (name) this.removeBlobFiles(this.metadata.linkName(name, blob.sha256));
    return { name: name ?? "", ...blob };
  }

  /**
   * Opens uploads/<sha256>.partial positioned at the committed offset. A
   * different declared size than before starts the upload over.
   */
  private async openPartial(sha256: string, size: number): Promise<{ handle: FileHandle; committedOffset: number }> {
    const path = this.layout.partialPath(sha256);
    const row = this.metadata.upload(sha256);
    let committedOffset = row && row.size === size ? row.committedOffset : 0;
    const handle = await open(path, "r+").catch((err) => (isNotFound(err) ? open(path, "w+") : Promise.reject(err)));
    try {
      const fileSize = (await handle.stat()).size;
      if (fileSize < committedOffset) {
        this.logger?.error({ sha256, fileSize, committedOffset }, "upload partial shorter than committed; restarting it");
        committedOffset = 0;
      }
      // Bytes past the committed offset were never acknowledged as durable: drop them so resume is exact.
      if (fileSize !== committedOffset) await handle.truncate(committedOffset);
      if (!row || row.size !== size || row.committedOffset !== committedOffset) {
        await handle.sync();
        this.metadata.putUpload({ sha256, size, committedOffset });
      }
      return { handle, committedOffset };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private async openBlob(sha256: string): Promise<FileHandle> {
    try {
      return await open(this.layout.blobPath(sha256), "r");
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`no blob with sha256 ${sha256}`);
      throw err;
    }
  }

  private removeBlobFiles(sha256s: string[]): void {
    for (const sha256 of sha256s) rmSync(this.layout.blobPath(sha256), { force: true });
  }
}

function validateUploadRequest(request: UploadRequest): Required<Omit<UploadRequest, "name">> & { name?: string } {
  validateSha256(request.sha256);
  if (!Number.isSafeInteger(request.size) || request.size < 0) throw new InvalidArgumentError(`invalid size ${request.size}`);
  if (!Number.isSafeInteger(request.offset) || request.offset < 0 || request.offset > request.size) {
    throw new InvalidArgumentError(`invalid offset ${request.offset} for size ${request.size}`);
  }
  const name = request.name ? validateName(request.name) : undefined;
  return { sha256: request.sha256, size: request.size, offset: request.offset, name };
}
