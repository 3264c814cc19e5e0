import type { ClientWritableStream } from "@grpc/grpc-js";
import { CHUNK_BYTES } from "@ballast/common/grpc";
import type { StagingServiceClient, UploadRequest, UploadResponse } from "@ballast/gen/staging";

/** Something to upload: its size, digest, and its bytes from any offset. */
export interface UploadSource {
  size: number;
  sha256: string;
  chunks(offset: number, chunkBytes: number): AsyncIterable<Uint8Array>;
}

/**
 * One Upload call: the header, then the source's bytes from `offset`,
 * honouring backpressure. If the call fails, sending stops and the source is closed.
 */
export async function sendUpload(client: StagingServiceClient, source: UploadSource, name: string, offset: number): Promise<UploadResponse> {
  let stream!: ClientWritableStream<UploadRequest>;
  const callEnded = new AbortController();
  const response = new Promise<UploadResponse>((resolve, reject) => {
    stream = client.upload((err, res) => {
      callEnded.abort();
      if (err) reject(err);
      else resolve(res);
    });
  });
  const sending = (async () => {
    const header = { name, sha256: source.sha256, size: source.size, offset };
    await write(stream, { message: { $case: "header", value: header } }, callEnded.signal);
    for await (const chunk of source.chunks(offset, CHUNK_BYTES)) {
      if (callEnded.signal.aborted) return;
      await write(stream, { message: { $case: "chunk", value: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) } }, callEnded.signal);
    }
    stream.end();
  })();
  sending.catch(() => stream.cancel()); // a local read error: abandon the call, the committed part stays
  await Promise.race([sending, response]);
  return response;
}

function write(stream: ClientWritableStream<UploadRequest>, message: UploadRequest, callEnded: AbortSignal): Promise<void> {
  if (callEnded.aborted || stream.write(message)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      callEnded.removeEventListener("abort", done);
      resolve();
    };
    stream.on("drain", done);
    callEnded.addEventListener("abort", done);
  });
}
