import type { BlobRef, ByteRange } from "../core/names.js";
import type { Promotion } from "./metadata.js";

export type { Binding, Promotion } from "./metadata.js";

/** A verified blob; `name` is "" when it was addressed by digest. */
export interface StoredBlob {
  name: string;
  sha256: string;
  size: number;
  createdAtMs: number;
}

export interface UploadStatus {
  /** Bytes durably stored; an upload resumes here. */
  committedOffset: number;
  /** The blob exists and is verified. */
  complete: boolean;
}

export interface UploadRequest {
  sha256: string;
  size: number;
  /** Where the caller's bytes start; must equal the committed offset. */
  offset: number;
  /** Linked to the blob once it is verified. */
  name?: string;
}

/** The receiving end of one upload attempt. */
export interface UploadSink {
  /** Where the next written byte lands. */
  readonly position: number;
  readonly size: number;
  /** Appends bytes; more than `size` in total discards the upload and throws INVALID_ARGUMENT. */
  write(chunk: Uint8Array): Promise<void>;
  /** All bytes are in: verifies the digest, makes the blob (and its name) visible, durably. */
  complete(): Promise<StoredBlob>;
  /** The attempt ended early: makes what arrived durable so the next attempt resumes after it. Returns the committed offset. */
  suspend(): Promise<number>;
  /** Drops the upload and everything received for it so far. */
  discard(): Promise<void>;
}

export type OpenedUpload = { kind: "exists"; blob: StoredBlob } | { kind: "open"; sink: UploadSink };

/**
 * Content-addressed blob storage with names. The local implementation keeps
 * files plus SQLite metadata; an S3-like backend can implement the same.
 */
export interface BlobStore {
  uploadStatus(sha256: string): Promise<UploadStatus>;
  /** Starts or resumes an upload; an already stored blob only gets the name (re)linked. */
  openUpload(request: UploadRequest): Promise<OpenedUpload>;
  /** Throws NotFoundError for an unknown name or digest. */
  stat(ref: BlobRef): Promise<StoredBlob>;
  /** Bytes of a verified blob in chunks of at most `chunkBytes`. */
  read(sha256: string, range: ByteRange, chunkBytes: number): AsyncIterable<Uint8Array>;
  /** Whether a name starting with `prefix` points at the blob (a caller given a name for it owns it). */
  isNamedUnder(prefix: string, sha256: string): Promise<boolean>;
  /** Names starting with `prefix`, sorted. */
  list(prefix: string): Promise<StoredBlob[]>;
  /** Removes a name; the blob goes when no name points at it. False if the name did not exist. */
  delete(name: string): Promise<boolean>;
  /** Points `name` at an existing blob; NotFoundError if there is none. */
  link(name: string, sha256: string): Promise<StoredBlob>;
  /** A job's output commit, all or nothing (StagingService.Promote); NotFoundError names a missing source. */
  promote(promotion: Promotion): Promise<{ alreadyApplied: boolean; removed: number }>;
  close(): Promise<void>;
}
