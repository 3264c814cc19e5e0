// Request decoding at the wire edge: a message that does not decode is the sender's mistake.
import { status, type MethodDefinition, type ServerDuplexStream, type ServerReadableStream, type UntypedHandleCall } from "@grpc/grpc-js";
import type { ServiceBinding } from "../grpc.js";

/**
 * What a request decodes to when the generated decoder throws: truncated
 * bytes, or a uint64 above 2^53 (ts-proto's forceLong=number refuses to lose
 * precision). grpc-js would answer INTERNAL "Error deserializing request" and
 * drop the reason; the handler wrapper below answers INVALID_ARGUMENT with it.
 */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

const invalid = (reason: string) =>
  Object.assign(new Error(`request does not decode: ${reason}`), { code: status.INVALID_ARGUMENT, details: `request does not decode: ${reason}` });

function tolerantDeserializer(deserialize: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (err) {
      return new UndecodableRequest(/Number\.MAX_SAFE_INTEGER/.test((err as Error).message) ? "an integer field is above 2^53" : (err as Error).message);
    }
  };
}

/** Streams receive messages by push: an undecodable one ends the call with INVALID_ARGUMENT instead. */
function refuseUndecodablePushes(call: ServerReadableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, duplex: boolean): void {
  const push = call.push.bind(call);
  call.push = (chunk: unknown) => {
    if (!(chunk instanceof UndecodableRequest)) return push(chunk);
    // A duplex call turns an emitted error into its status; a readable one fails its reader.
    if (duplex) call.emit("error", invalid(chunk.reason));
    else call.destroy(invalid(chunk.reason));
    return false;
  };
}

function strictHandler(method: MethodDefinition<unknown, unknown>, handler: UntypedHandleCall): UntypedHandleCall {
  const wrapped = (call: any, callback?: any) => {
    if (!method.requestStream && call.request instanceof UndecodableRequest) {
      const error = invalid(call.request.reason);
      return method.responseStream ? call.emit("error", error) : callback(error);
    }
    if (method.requestStream) refuseUndecodablePushes(call, method.responseStream);
    return (handler as (call: unknown, callback?: unknown) => void)(call, callback);
  };
  return wrapped as UntypedHandleCall;
}

/**
 * The binding with every request decoder made tolerant and every handler
 * refusing what did not decode with INVALID_ARGUMENT naming the reason.
 */
export function withStrictDecoding(binding: ServiceBinding): ServiceBinding {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const implementation: Record<string, UntypedHandleCall> = {};
  for (const [name, method] of Object.entries(binding.definition as Record<string, MethodDefinition<unknown, unknown>>)) {
    definition[name] = { ...method, requestDeserialize: tolerantDeserializer(method.requestDeserialize) };
    const handler = binding.implementation[name];
    if (handler) implementation[name] = strictHandler(method, handler);
  }
  return { ...binding, definition, implementation };
}
