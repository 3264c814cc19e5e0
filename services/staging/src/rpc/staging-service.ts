import type * as grpc from "@grpc/grpc-js";
import { setTimeout as sleep } from "node:timers/promises";
import { CHUNK_BYTES, clientStream, serverStream, unary, type ServiceBinding } from "@ballast/common/grpc";
import { DeadlineExceededError, InvalidArgumentError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { callerOf } from "@ballast/common/security";
import {
  StagingServiceService,
  type BlobInfo,
  type DownloadRequest,
  type DownloadResponse,
  type NameBinding,
  type StagingServiceServer,
  type UploadRequest,
  type UploadResponse,
} from "@ballast/gen/staging";
import { blobRefOf, resolveRange, validateSha256 } from "../core/names.js";
import type { Binding, BlobStore, StoredBlob, UploadSink } from "../store/blob-store.js";
import { withStrictDecoding } from "@ballast/common/wire/decode";
import { scopedStore } from "../store/scoped-store.js";

export interface StagingServiceOptions {
  logger?: Logger;
  /** Test-only: sleep this long before storing each upload chunk, to make uploads slow enough to kill. */
  chunkDelayMs?: number;
  /** An upload that sends nothing for this long is ended (DEADLINE_EXCEEDED) and its lock freed; default 60 s. */
  uploadIdleTimeoutMs?: number;
}

export const DEFAULT_UPLOAD_IDLE_TIMEOUT_MS = 60_000;

/** The gRPC face of a BlobStore: wire messages in, domain calls, wire messages out. */
export function stagingServiceBinding(store: BlobStore, options: StagingServiceOptions = {}): ServiceBinding {
  // Each call sees the store as its caller may (scoped-store.ts): the cluster all of it, a user its own space.
  const as = (call: object) => scopedStore(store, callerOf(call));
  const implementation: StagingServiceServer = {
    upload: clientStream((call) => receiveUpload(as(call), call, options)),
    getUploadStatus: unary(async (req, call) => as(call).uploadStatus(validateSha256(req.sha256))),
    download: serverStream((req, call) => sendDownload(as(call), req, call)),
    stat: unary(async (req, call) => ({ blob: toBlobInfo(await as(call).stat(blobRefOf(req.name, req.sha256))) })),
    list: unary(async (req, call) => ({ blobs: (await as(call).list(req.prefix)).map(toBlobInfo) })),
    delete: unary(async (req, call) => ({ deleted: await as(call).delete(req.name) })),
    link: unary(async (req, call) => ({ blob: toBlobInfo(await as(call).link(req.name, req.sha256)) })),
    promote: unary(async (req, call) => as(call).promote({ commitId: req.commitId, bindings: req.bindings.map(bindingOf), removePrefix: req.removePrefix })),
  };
  return withStrictDecoding({ name: "ballast.v1.StagingService", definition: StagingServiceService, implementation });
}

async function receiveUpload(
  store: BlobStore,
  call: grpc.ServerReadableStream<UploadRequest, UploadResponse>,
  options: StagingServiceOptions,
): Promise<UploadResponse> {
  const messages = idleLimited(call[Symbol.asyncIterator](), options.uploadIdleTimeoutMs ?? DEFAULT_UPLOAD_IDLE_TIMEOUT_MS);
  const first = await messages.next();
  if (first.done || first.value.message?.$case !== "header") {
    throw new InvalidArgumentError("an upload must start with a header message");
  }
  const header = first.value.message.value;
  const opened = await store.openUpload({ ...header, name: header.name || undefined });
  if (opened.kind === "exists") {
    // Already stored and verified: nothing to write, whatever the client still sends.
    for await (const _ of { [Symbol.asyncIterator]: () => messages });
    return { blob: toBlobInfo(opened.blob) };
  }
  const { sink } = opened;
  try {
    await writeChunks(sink, messages, options);
  } catch (err) {
    const committed = await sink.suspend().catch(() => undefined);
    options.logger?.info({ sha256: header.sha256, committed, err: (err as Error).message }, "upload attempt ended early");
    throw err;
  }
  const blob = await sink.complete();
  options.logger?.info({ sha256: blob.sha256, size: blob.size, name: blob.name }, "blob stored");
  return { blob: toBlobInfo(blob) };
}

/**
 * The stream's messages, failing with DEADLINE_EXCEEDED when the client sends
 * nothing for `idleMs`: a stalled uploader must not hold the blob's lock
 * forever (the caller suspends the upload, which frees it; the client may resume).
 */
function idleLimited(messages: AsyncIterator<UploadRequest>, idleMs: number): AsyncIterator<UploadRequest> {
  return {
    next: () => {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineExceededError(`upload idle for ${idleMs} ms; ended, its lock freed (resume from GetUploadStatus)`)), idleMs);
      });
      return Promise.race([messages.next(), idle]).finally(() => clearTimeout(timer));
    },
  };
}

async function writeChunks(sink: UploadSink, messages: AsyncIterator<UploadRequest>, options: StagingServiceOptions): Promise<void> {
  for (let next = await messages.next(); !next.done; next = await messages.next()) {
    const message = next.value.message;
    if (message?.$case !== "chunk") throw new InvalidArgumentError("only chunk messages may follow the upload header");
    if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
    await sink.write(message.value);
  }
}

async function sendDownload(store: BlobStore, req: DownloadRequest, call: grpc.ServerWritableStream<DownloadRequest, DownloadResponse>): Promise<void> {
  const blob = await store.stat(blobRefOf(req.name, req.sha256));
  const range = resolveRange(blob.size, req.offset, req.length);
  for await (const data of store.read(blob.sha256, range, CHUNK_BYTES)) {
    if (call.cancelled) return;
    await writeWithBackpressure(call, { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
  }
}

/** Waits for 'drain' when the transport is full, so a slow reader does not make us buffer the blob. */
function writeWithBackpressure<T>(call: grpc.ServerWritableStream<unknown, T>, message: T): Promise<void> {
  if (call.write(message)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      call.off("close", done);
      resolve();
    };
    call.on("drain", done);
    call.on("cancelled", done);
    call.on("close", done);
  });
}

/** A wire binding names exactly one source: another name or a digest. */
function bindingOf(binding: NameBinding): Binding {
  if (binding.sourceName && binding.sha256) throw new InvalidArgumentError(`binding of ${JSON.stringify(binding.name.slice(0, 600))}: give a source name or a sha256, not both`);
  if (binding.sha256) return { name: binding.name, sha256: binding.sha256 };
  if (binding.sourceName) return { name: binding.name, sourceName: binding.sourceName };
  throw new InvalidArgumentError(`binding of ${JSON.stringify(binding.name.slice(0, 600))} has no source name or sha256`);
}

function toBlobInfo(blob: StoredBlob): BlobInfo {
  return { name: blob.name, sha256: blob.sha256, size: blob.size, createdAtMs: blob.createdAtMs };
}
