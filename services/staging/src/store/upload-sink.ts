import type { FileHandle } from "node:fs/promises";
import { renameSync, rmSync } from "node:fs";
import { FailedPreconditionError, InvalidArgumentError } from "@ballast/common/errors";
import { fsyncDir } from "@ballast/common/durable";
import type { StoredBlob, UploadSink } from "./blob-store.js";
import { sha256OfFile, type DataLayout } from "./layout.js";
import type { StagingMetadata } from "./metadata.js";

export interface UploadContext {
  layout: DataLayout;
  metadata: StagingMetadata;
  /** Bytes written between fsyncs (each fsync advances the committed offset). */
  syncEveryBytes: number;
  /** Removes blob files whose last name went away. */
  removeBlobFiles(sha256s: string[]): void;
  /** Called once when the attempt ends, however it ends. */
  release(): void;
}

/**
 * One upload attempt writing DATA_DIR/uploads/<sha256>.partial. The committed
 * offset in SQLite only moves after the bytes before it are fsynced, so a
 * crash loses at most the unsynced tail, which start-up truncates away.
 */
export class LocalUploadSink implements UploadSink {
  private syncedPosition: number;
  private finished = false;
  private released = false;

  constructor(
    private readonly ctx: UploadContext,
    private readonly handle: FileHandle,
    readonly sha256: string,
    readonly size: number,
    public position: number,
    private readonly name: string | undefined,
  ) {
    this.syncedPosition = position;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    if (this.position + chunk.length > this.size) {
      await this.discard();
      throw new InvalidArgumentError(`upload of ${this.sha256} sent more than its declared size of ${this.size} bytes`);
    }
    await this.handle.write(chunk, 0, chunk.length, this.position);
    this.position += chunk.length;
    if (this.position - this.syncedPosition >= this.ctx.syncEveryBytes) await this.commitProgress();
  }

  async complete(): Promise<StoredBlob> {
    this.assertOpen();
    if (this.position < this.size) {
      const committed = await this.suspend();
      throw new FailedPreconditionError(
        `upload incomplete: ${committed} of ${this.size} bytes committed; resume from offset ${committed}`,
      );
    }
    try {
      await this.commitProgress();
      await this.closeHandle();
      const partial = this.ctx.layout.partialPath(this.sha256);
      const actual = await sha256OfFile(partial);
      if (actual !== this.sha256) {
        this.forget();
        throw new InvalidArgumentError(`digest mismatch: expected ${this.sha256}, got ${actual}`);
      }
      return this.publish(partial);
    } finally {
      this.release();
    }
  }

  async suspend(): Promise<number> {
    if (this.finished) return this.syncedPosition;
    try {
      await this.commitProgress();
    } finally {
      await this.closeHandle().finally(() => this.release());
    }
    return this.syncedPosition;
  }

  /** Drops the attempt and everything uploaded so far. */
  async discard(): Promise<void> {
    try {
      await this.closeHandle();
      this.forget();
    } finally {
      this.release();
    }
  }

  /** Rename into blobs/, then the rows; synchronous so no other call sees a half-published blob. */
  private publish(partial: string): StoredBlob {
    const { layout, metadata } = this.ctx;
    renameSync(partial, layout.blobPath(this.sha256));
    fsyncDir(layout.blobsDir);
    fsyncDir(layout.uploadsDir);
    const blob = { sha256: this.sha256, size: this.size, createdAtMs: Date.now() };
    this.ctx.removeBlobFiles(metadata.commitBlob(blob, this.name));
    const stored = metadata.blob(this.sha256)!;
    return { name: this.name ?? "", ...stored };
  }

  private async commitProgress(): Promise<void> {
    if (this.position === this.syncedPosition) return;
    await this.handle.sync();
    this.ctx.metadata.putUpload({ sha256: this.sha256, size: this.size, committedOffset: this.position });
    this.syncedPosition = this.position;
  }

  private forget(): void {
    rmSync(this.ctx.layout.partialPath(this.sha256), { force: true });
    this.ctx.metadata.deleteUpload(this.sha256);
  }

  private async closeHandle(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.handle.close();
  }

  /** Lets the next attempt on this digest in; only once the files are settled. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.release();
  }

  private assertOpen(): void {
    if (this.finished) throw new FailedPreconditionError(`upload of ${this.sha256} is already finished`);
  }
}
