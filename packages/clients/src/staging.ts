import { status, type CallOptions, type ClientUnaryCall, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { trace } from "@opentelemetry/api";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { open, stat as statFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DataLossError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  describeError,
  isServiceError,
} from "@ballast/common/errors";
import { commitFile } from "@ballast/common/durable";
import { call, createClient } from "@ballast/common/grpc";
import { withSpan } from "@ballast/common/telemetry";
import { StagingServiceClient, type BlobInfo as WireBlobInfo, type DownloadRequest } from "@ballast/gen/staging";
import { OutOfRangeError } from "@ballast/common/errors";
import { sendUpload, type UploadSource } from "./stagingUpload.js";

export interface BlobInfo {
  name: string;
  sha256: string;
  size: number;
  createdAtMs: number;
}
export type BlobRef = { name: string } | { sha256: string };

export interface StagingClientOptions {
  /** Retries after a first failed attempt (UNAVAILABLE, broken stream, busy); default 5. */
  maxRetries?: number;
  /** First retry delay, doubled per retry with jitter and capped at 5s; default 300ms. */
  initialBackoffMs?: number;
  /** Deadline of unary calls; default 30s. Streams rely on keepalive instead. */
  deadlineMs?: number;
  /** Call with this token instead of the process's (an executor acting for one job). */
  token?: string;
  /** Observes each upload attempt and the offset it resumes from. */
  onUploadAttempt?: (attempt: { sha256: string; attempt: number; offset: number }) => void;
}

const MAX_BACKOFF_MS = 5000;

/** The staging service's client, used by the CLI (uploads) and executors (bundles, inputs, outputs). */
export class StagingClient {
  private readonly client: StagingServiceClient;
  private readonly options: Required<Omit<StagingClientOptions, "onUploadAttempt" | "token">> & Pick<StagingClientOptions, "onUploadAttempt">;

  constructor(address: string, options: StagingClientOptions = {}) {
    this.client = createClient(StagingServiceClient, address, options.token);
    this.options = { maxRetries: 5, initialBackoffMs: 300, deadlineMs: 30_000, ...options };
  }

  /** Streams a local file up (sha256 computed first by streaming), resuming from the committed
   *  offset; retries UNAVAILABLE / broken streams up to 5 times with backoff+jitter, resuming each time. */
  async uploadFile(path: string, name?: string): Promise<BlobInfo> {
    const { size } = await statFile(path);
    const hash = createHash("sha256");
    await pipeline(createReadStream(path), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) hash.update(chunk);
    });
    return this.upload(fileSource(path, size, hash.digest("hex")), name);
  }

  async uploadBytes(data: Uint8Array, name?: string): Promise<BlobInfo> {
    return this.upload(bytesSource(data), name);
  }

  /** Downloads to a file (temp + rename); verifies sha256 when downloading the whole blob. */
  async downloadToFile(ref: BlobRef, destPath: string): Promise<BlobInfo> {
    const info = await this.stat(ref);
    // By digest from here on, so a name re-pointed meanwhile cannot mix two blobs.
    const request = { name: "", sha256: info.sha256, offset: 0, length: 0 };
    const temp = `${destPath}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    mkdirSync(dirname(destPath), { recursive: true });
    try {
      await this.withRetries("download", async () => {
        const hash = createHash("sha256");
        await pipeline(this.downloadChunks(request), async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            yield chunk;
          }
        }, createWriteStream(temp));
        const actual = hash.digest("hex");
        if (actual !== info.sha256) throw new DataLossError(`downloaded blob has sha256 ${actual}, expected ${info.sha256}`);
      });
      await fsyncFile(temp);
      commitFile(temp, destPath);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    return info;
  }

  async downloadBytes(ref: BlobRef, range?: { offset: number; length: number }): Promise<Uint8Array> {
    const request = { name: "", sha256: "", ...ref, offset: range?.offset ?? 0, length: range?.length ?? 0 };
    return this.withRetries("download", async () => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of this.downloadChunks(request)) chunks.push(chunk);
      return new Uint8Array(Buffer.concat(chunks));
    });
  }

  /** NotFound -> throws NotFoundError. */
  async stat(ref: BlobRef): Promise<BlobInfo> {
    const res = await this.unary(this.client.stat, { name: "", sha256: "", ...ref });
    return fromWire(res.blob);
  }

  async list(prefix = ""): Promise<BlobInfo[]> {
    const res = await this.unary(this.client.list, { prefix });
    return res.blobs.map(fromWire);
  }

  /** Removes a name; false if it did not exist. */
  async delete(name: string): Promise<boolean> {
    return (await this.unary(this.client.delete, { name })).deleted;
  }

  async link(name: string, sha256: string): Promise<BlobInfo> {
    return fromWire((await this.unary(this.client.link, { name, sha256 })).blob);
  }

  /**
   * Job output commit (cluster credentials): points each binding's name at its source's blob and
   * removes every other name under `removePrefix`, atomically; a retry of an applied `commitId` answers alreadyApplied.
   */
  async promote(request: { commitId: string; bindings: Array<{ name: string; sourceName?: string; sha256?: string }>; removePrefix: string }): Promise<{ alreadyApplied: boolean; removed: number }> {
    const bindings = request.bindings.map((b) => ({ name: b.name, sourceName: b.sourceName ?? "", sha256: b.sha256 ?? "" }));
    return this.unary(this.client.promote, { ...request, bindings });
  }

  /** How much of an upload is committed (the offset to resume from). */
  async uploadStatus(sha256: string): Promise<{ committedOffset: number; complete: boolean }> {
    return this.unary(this.client.getUploadStatus, { sha256 });
  }

  close(): void {
    this.client.close();
  }

  private upload(source: UploadSource, name?: string): Promise<BlobInfo> {
    return withSpan("staging.upload", { "ballast.sha256": source.sha256, "ballast.size": source.size }, () =>
      this.withRetries("upload", async (attempt) => {
        const progress = await this.uploadStatus(source.sha256);
        const offset = progress.complete ? source.size : progress.committedOffset;
        this.options.onUploadAttempt?.({ sha256: source.sha256, attempt, offset });
        return fromWire((await sendUpload(this.client, source, name ?? "", offset)).blob);
      }),
    );
  }

  private async *downloadChunks(request: DownloadRequest): AsyncGenerator<Uint8Array> {
    for await (const message of this.client.download(request)) yield (message as { data: Buffer }).data;
  }

  private unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    return this.withRetries("call", () => call(method.bind(this.client), request, this.options.deadlineMs));
  }

  /** Runs `attempt` until it succeeds, fails for good, or runs out of retries; errors come back as Ballast errors. */
  private async withRetries<T>(what: string, attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt(n);
      } catch (err) {
        if (n >= this.options.maxRetries || !isTransient(err)) throw fromServiceError(err);
        const delayMs = Math.min(this.options.initialBackoffMs * 2 ** n, MAX_BACKOFF_MS) * (0.5 + Math.random());
        trace.getActiveSpan()?.addEvent("staging.retry", { what, attempt: n + 1, delayMs, error: describeError(err) });
        await sleep(delayMs);
      }
    }
  }
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

/** Errors worth another attempt: the service was away, the stream broke, or another attempt held the upload. */
function isTransient(err: unknown): boolean {
  if (!isServiceError(err)) return false;
  switch (err.code) {
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case status.ABORTED:
    case status.CANCELLED:
      return true;
    case status.FAILED_PRECONDITION:
      return err.details.startsWith("resume from offset");
    case status.INTERNAL:
    case status.UNKNOWN:
      return /RST_STREAM|stream|connection|socket/i.test(err.details) && !err.details.startsWith("internal error:");
    default:
      return false;
  }
}

function fromServiceError(err: unknown): unknown {
  if (!isServiceError(err)) return err;
  const message = describeError(err);
  switch (err.code) {
    case status.NOT_FOUND:
      return new NotFoundError(message);
    case status.INVALID_ARGUMENT:
      return new InvalidArgumentError(message);
    case status.FAILED_PRECONDITION:
      return new FailedPreconditionError(message);
    case status.OUT_OF_RANGE:
      return new OutOfRangeError(message);
    case status.DATA_LOSS:
      return new DataLossError(message);
    case status.UNAVAILABLE:
      return new UnavailableError(message);
    default:
      return err;
  }
}

function fromWire(blob: WireBlobInfo | undefined): BlobInfo {
  if (!blob) throw new InternalError("staging service answered without blob info");
  return { name: blob.name, sha256: blob.sha256, size: blob.size, createdAtMs: blob.createdAtMs };
}

function fileSource(path: string, size: number, sha256: string): UploadSource {
  return {
    size,
    sha256,
    async *chunks(offset, chunkBytes) {
      const handle = await open(path, "r");
      try {
        for (let position = offset; position < size; ) {
          const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, size - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw new InvalidArgumentError(`${path} shrank while uploading`);
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    },
  };
}

function bytesSource(data: Uint8Array): UploadSource {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    async *chunks(offset, chunkBytes) {
      for (let position = offset; position < bytes.length; position += chunkBytes) yield bytes.subarray(position, position + chunkBytes);
    },
  };
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
