import * as grpc from "@grpc/grpc-js";
import { context, propagation } from "@opentelemetry/api";
import { toServiceError } from "./errors.js";
import { HealthStatuses, ServingStatus } from "./health.js";
import type { Logger } from "./logging.js";
import { addReflection } from "./reflection.js";
import { authInterceptor, channelCredentials, guardService, serverCredentials, tokenInterceptor } from "./security.js";

export { isServing } from "./health.js";

/** Largest message a service accepts; larger requests get RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Bulk data (blocks, uploads, downloads) moves in chunks of this size. */
export const CHUNK_BYTES = 1024 * 1024;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  // grpc-js backs a failed channel off up to 120s by default; a restarted peer
  // (scheduler, shuffle service) must be found again within seconds.
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 5000,
};

export interface ServiceBinding {
  /** Full name, e.g. ballast.v1.ShuffleService, for health checking. */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface RunningServer {
  server: grpc.Server;
  port: number;
  address: string;
  health: HealthStatuses;
  /** Stops accepting calls, lets running ones finish for up to graceMs, then cuts them. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a gRPC server with health checking and server reflection. `address` is host:port (port 0 picks one). */
export async function startGrpcServer(address: string, services: ServiceBinding[], logger?: Logger): Promise<RunningServer> {
  const server = new grpc.Server({ ...CHANNEL_OPTIONS, "grpc.max_concurrent_streams": 1000 });
  for (const service of services) server.addService(service.definition, guardService(service.definition, service.implementation));
  const health = new HealthStatuses(services.map((s) => s.name));
  health.addToServer(server);
  // Each service reflects only what it serves (and health), with every file those depend on.
  addReflection(server, [...services.map((s) => s.name), "grpc.health.v1.Health"]);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, serverCredentials(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const host = address.slice(0, address.lastIndexOf(":"));
  logger?.info({ address: `${host}:${port}`, services: services.map((s) => s.name) }, "gRPC server listening");
  const stop = (graceMs = 5000) =>
    new Promise<void>((resolve) => {
      for (const name of health.names()) health.setStatus(name, ServingStatus.NOT_SERVING);
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  return { server, port, address: `${host}:${port}`, health, stop };
}

function traceContextOf(metadata: grpc.Metadata) {
  const carrier: Record<string, string> = {};
  for (const key of ["traceparent", "tracestate"]) {
    const value = metadata.get(key)[0];
    if (typeof value === "string") carrier[key] = value;
  }
  return propagation.extract(context.active(), carrier);
}

/**
 * The server side of trace propagation and error mapping for unary calls:
 * the handler runs in the caller's trace context; a thrown BallastError
 * becomes its gRPC status, anything else INTERNAL.
 */
export function unary<Req, Res>(handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    context.with(traceContextOf(call.metadata), async () => {
      try {
        callback(null, await handler(call.request, call));
      } catch (err) {
        callback(toServiceError(err) as grpc.ServiceError);
      }
    });
  };
}

/** Like `unary`, for server-streaming calls: the handler writes to the call; a throw ends it with a status. */
export function serverStream<Req, Res>(handler: (request: Req, call: grpc.ServerWritableStream<Req, Res>) => Promise<void>): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    context.with(traceContextOf(call.metadata), async () => {
      try {
        await handler(call.request, call);
        call.end();
      } catch (err) {
        // grpc-js turns an emitted error into the call's status and ends it.
        call.emit("error", Object.assign(new Error((err as Error)?.message), toServiceError(err)));
      }
    });
  };
}

/** Like `unary`, for client-streaming calls: the handler consumes the call as an async iterable. */
export function clientStream<Req, Res>(handler: (call: grpc.ServerReadableStream<Req, Res>) => Promise<Res>): grpc.handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    context.with(traceContextOf(call.metadata), async () => {
      try {
        callback(null, await handler(call));
      } catch (err) {
        callback(toServiceError(err) as grpc.ServiceError);
      }
    });
  };
}

/** The client side of trace propagation: injects the active context into metadata. */
const traceInterceptor: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      for (const [key, value] of Object.entries(carrier)) metadata.set(key, value);
      next(metadata, listener);
    },
  });

type ClientConstructor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => C;

/**
 * A client for one of the generated services, with trace propagation, Ballast's message limits and
 * this process's credentials (security.ts), or `token` instead of the process's (a job's).
 */
export function createClient<C extends grpc.Client>(Ctor: ClientConstructor<C>, address: string, token?: string): C {
  const auth = token ? [tokenInterceptor(token), authInterceptor] : [authInterceptor];
  return new Ctor(address, channelCredentials(), { ...CHANNEL_OPTIONS, interceptors: [traceInterceptor, ...auth] });
}

/** Calls a generated unary method as a promise, with a deadline. */
export function call<Req, Res>(
  method: (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall,
  request: Req,
  deadlineMs = 30_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
