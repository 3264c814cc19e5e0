import { credentials, status } from "@grpc/grpc-js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { call, createClient } from "@ballast/common/grpc";
import { processSecurity } from "@ballast/common/security";
import { REPO, startTestCluster, type TestCluster } from "../support/cluster.js";

const exec = promisify(execFile);
let cluster: TestCluster;
let scheduler: InstanceType<typeof SchedulerServiceClient>;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 1 });
  scheduler = createClient(SchedulerServiceClient, cluster.scheduler);
});

afterAll(async () => {
  scheduler?.close();
  await cluster?.stop();
});

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return status.OK;
  } catch (err) {
    return (err as { code: number }).code;
  }
}

describe("every service answers health checks and reflection", () => {
  // Reflection and health need no token; every other method gets the cluster's (test/support/auth.ts).
  it("lists its services through server reflection (buf curl), without a token", async () => {
    for (const service of cluster.services) {
      const { stdout } = await exec(`${REPO}/node_modules/.bin/buf`, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", `http://${service.address}`], { cwd: REPO });
      expect(stdout).toContain("grpc.health.v1.Health");
      const expected = { scheduler: "SchedulerService", staging: "StagingService", history: "HistoryService", shuffle: "ShuffleService", executor: "ExecutorService" }[service.name];
      expect(stdout).toContain(`ballast.v1.${expected}`);
    }
  });

  // One method per service with no local schema: buf curl learns every type from the server.
  const methodOf: Record<string, string> = {
    scheduler: "ballast.v1.SchedulerService/ListExecutors",
    executor: "ballast.v1.ExecutorService/GetExecutorStatus",
    shuffle: "ballast.v1.ShuffleService/ListMapOutputs",
    staging: "ballast.v1.StagingService/List",
    history: "ballast.v1.HistoryService/ListApplications",
  };
  for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
    it(`calls a method of every service and health through reflection alone (${reflectProtocol})`, async () => {
      const curl = (address: string, method: string, headers: string[] = []) =>
        exec(`${REPO}/node_modules/.bin/buf`, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", reflectProtocol, ...headers, "-d", "{}", `http://${address}/${method}`], { cwd: REPO });
      const withToken = ["-H", `authorization: Bearer ${processSecurity().token}`];
      expect(cluster.services.map((s) => s.name).sort()).toEqual(Object.keys(methodOf).sort());
      for (const service of cluster.services) {
        const { stdout } = await curl(service.address, methodOf[service.name]!, withToken);
        expect(JSON.parse(stdout), `${service.name} answers ${methodOf[service.name]}`).toBeTypeOf("object");
        expect(JSON.parse((await curl(service.address, "grpc.health.v1.Health/Check")).stdout)).toEqual({ status: "SERVING" });
      }
    });
  }
});

describe("the scheduler API rejects bad requests and keeps serving", () => {
  it("answers INVALID_ARGUMENT for a submission without a plan or a digest", async () => {
    expect(await codeOf(call(scheduler.submitJob.bind(scheduler), { plan: undefined, bundleDigest: "", conf: {}, submissionId: "", applicationId: "" }))).toBe(status.INVALID_ARGUMENT);
  });

  it("answers NOT_FOUND for unknown jobs and INVALID_ARGUMENT for an empty id", async () => {
    expect(await codeOf(call(scheduler.getJob.bind(scheduler), { jobId: "job-9999" }))).toBe(status.NOT_FOUND);
    expect(await codeOf(call(scheduler.cancelJob.bind(scheduler), { jobId: "" }))).toBe(status.INVALID_ARGUMENT);
  });

  it("answers RESOURCE_EXHAUSTED for an oversized message", async () => {
    // A client that sends more than the server accepts, so the server's limit is what is tested.
    const greedy = new SchedulerServiceClient(cluster.scheduler, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024 });
    const huge = "x".repeat(20 * 1024 * 1024);
    try {
      expect(await codeOf(call(greedy.submitJob.bind(greedy), { plan: undefined, bundleDigest: huge, conf: {}, submissionId: "", applicationId: "" }))).toBe(status.RESOURCE_EXHAUSTED);
    } finally {
      greedy.close();
    }
  });

  it("still lists jobs and executors afterwards", async () => {
    const { executors } = await call(scheduler.listExecutors.bind(scheduler), {});
    expect(executors.map((e) => e.nodeId)).toEqual(["node-1"]);
    expect(executors[0]!.alive).toBe(true);
    await call(scheduler.listJobs.bind(scheduler), { pageSize: 0, pageToken: "", applicationId: "" });
  });
});
