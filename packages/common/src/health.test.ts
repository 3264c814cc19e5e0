import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthClient, HealthCheckResponse_ServingStatus as ServingStatus, type HealthCheckResponse } from "@ballast/gen/grpc/health/v1/health";
import { HealthStatuses, isServing } from "./health.js";

let server: grpc.Server;
let address: string;
let health: HealthStatuses;
let client: InstanceType<typeof HealthClient>;

beforeAll(async () => {
  server = new grpc.Server();
  health = new HealthStatuses(["ballast.v1.Example"]);
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  address = `127.0.0.1:${port}`;
  client = new HealthClient(address, grpc.credentials.createInsecure());
});

afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

const check = (service: string) =>
  new Promise<HealthCheckResponse>((resolve, reject) => client.check({ service }, (err, res) => (err ? reject(err) : resolve(res))));

describe("the health service", () => {
  it("reports SERVING for the server and its services, NOT_FOUND for others", async () => {
    expect(await check("")).toEqual({ status: ServingStatus.SERVING });
    expect(await check("ballast.v1.Example")).toEqual({ status: ServingStatus.SERVING });
    await expect(check("ballast.v1.Nothing")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await isServing(address)).toBe(true);
  });

  it("lists every status", async () => {
    const listed = await new Promise<unknown>((resolve, reject) => client.list({}, (err, res) => (err ? reject(err) : resolve(res))));
    expect(listed).toEqual({ statuses: { "": { status: ServingStatus.SERVING }, "ballast.v1.Example": { status: ServingStatus.SERVING } } });
  });

  it("streams the current status and then each change to a watcher", async () => {
    const stream = client.watch({ service: "ballast.v1.Example" });
    const seen: ServingStatus[] = [];
    const twoSeen = new Promise<void>((resolve) =>
      stream.on("data", (res: HealthCheckResponse) => {
        seen.push(res.status);
        if (seen.length === 1) health.setStatus("ballast.v1.Example", ServingStatus.NOT_SERVING);
        if (seen.length === 2) resolve();
      }),
    );
    stream.on("error", () => {});
    await twoSeen;
    stream.cancel();
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    await expect(check("ballast.v1.Example")).resolves.toEqual({ status: ServingStatus.NOT_SERVING });
    expect(await isServing(address)).toBe(true);
  });
});
