import * as grpc from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "@ballast/gen/grpc/health/v1/health";
import { channelCredentials } from "./security.js";

export { ServingStatus };
type Watcher = (status: ServingStatus) => void;

/**
 * gRPC's standard health service (grpc.health.v1: Check, Watch, List), served from the generated
 * code: grpc-health-check loads its proto with proto-loader and protobufjs at every start, which
 * cost each service about a seventh of its start-up.
 */
export class HealthStatuses {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  /** `services` are full service names; "" (the server as a whole) is always present. */
  constructor(services: string[]) {
    for (const name of ["", ...services]) this.statuses.set(name, ServingStatus.SERVING);
  }

  names(): string[] {
    return [...this.statuses.keys()];
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }

  addToServer(server: grpc.Server): void {
    server.addService(HealthService, this.implementation());
  }

  private implementation(): HealthServer {
    return {
      check: (call, callback) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else callback(null, { status });
      },
      watch: (call) => this.watch(call),
      list: (_call, callback) => {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [name, status] of this.statuses) statuses[name] = { status };
        callback(null, { statuses });
      },
    };
  }

  /** Sends the current status, then every change, until the client goes away. */
  private watch(call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
    const service = call.request.service;
    const send: Watcher = (status) => call.write({ status });
    send(this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
    const watchers = this.watchers.get(service) ?? new Set<Watcher>();
    this.watchers.set(service, watchers.add(send));
    call.on("cancelled", () => watchers.delete(send));
  }
}

/** Health-checks a service address; resolves true when it reports SERVING. */
export async function isServing(address: string, deadlineMs = 1000): Promise<boolean> {
  const client = new HealthClient(address, channelCredentials());
  try {
    const response = await new Promise<HealthCheckResponse>((resolve, reject) =>
      client.check({ service: "" }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    return response.status === ServingStatus.SERVING;
  } catch {
    return false;
  } finally {
    client.close();
  }
}
