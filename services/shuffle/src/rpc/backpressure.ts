import type * as grpc from "@grpc/grpc-js";
import { once } from "node:events";

/**
 * Writes one message of a server stream; when the stream is full, waits until
 * the client can take more or went away (check call.cancelled afterwards).
 */
export async function writeRespectingBackpressure<Req, Res>(call: grpc.ServerWritableStream<Req, Res>, message: Res): Promise<void> {
  if (call.write(message)) return;
  const controller = new AbortController();
  const options = { signal: controller.signal };
  await Promise.race([once(call, "drain", options), once(call, "cancelled", options), once(call, "close", options)]).catch(() => undefined);
  controller.abort();
}
