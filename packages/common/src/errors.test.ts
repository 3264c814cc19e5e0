import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutorServiceClient, ExecutorServiceService } from "@ballast/gen/executor";
import { isRetryable, UnavailableError } from "./errors.js";
import { call, createClient, MAX_MESSAGE_BYTES, startGrpcServer, unary, type RunningServer } from "./grpc.js";

let server: RunningServer;

beforeAll(async () => {
  // An answer over the message limit: grpc-js refuses to send it.
  const oversized = Array.from({ length: 17 }, () => "x".repeat(1024 * 1024));
  const implementation = {
    getExecutorStatus: unary(() => ({ executorId: "e", nodeId: "n", slots: 1, runningTaskIds: oversized, connected: true, schedulerEpoch: 1, bundlesCached: 0, tasksCompleted: 0, cachedPartitionsInMemory: 0, cachedBytesInMemory: 0 })),
  };
  server = await startGrpcServer("127.0.0.1:0", [{ name: "ballast.v1.ExecutorService", definition: ExecutorServiceService, implementation }]);
});

afterAll(() => server?.stop(0));

describe("isRetryable", () => {
  it("an answer over the message limit is RESOURCE_EXHAUSTED and not worth retrying: no reconnect loop", async () => {
    const client = createClient(ExecutorServiceClient, server.address);
    try {
      const err = await call(client.getExecutorStatus.bind(client), {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/larger than max/) });
      expect(isRetryable(err)).toBe(false);
    } finally {
      client.close();
    }
    expect(MAX_MESSAGE_BYTES).toBeLessThan(17 * 1024 * 1024);
  });

  it("other transient failures stay retryable", () => {
    expect(isRetryable(new UnavailableError("down"))).toBe(true);
    expect(isRetryable({ code: status.RESOURCE_EXHAUSTED, details: "backpressure: too many writes" })).toBe(true);
    expect(isRetryable({ code: status.INVALID_ARGUMENT, details: "no" })).toBe(false);
  });
});
