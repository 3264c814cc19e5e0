/**
 * The hostile-input suite's tools: a real cluster per file, raw gRPC calls
 * with hand-made bytes (what a careless or malicious client can send that the
 * generated clients never would), status assertions, and the closing check
 * that every service is still SERVING and a small job still runs.
 */
import * as grpc from "@grpc/grpc-js";
import { expect } from "vitest";
import { isServing } from "@ballast/common/grpc";
import { authInterceptor, channelCredentials } from "@ballast/common/security";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

export type { TestCluster };

/** One node keeps a file's cluster cheap; the staging idle timeout is short so a stalled upload ends within a test. */
export function startHostileCluster(): Promise<TestCluster> {
  return startTestCluster({ nodes: 1, slots: 2, env: { BALLAST_STAGING_UPLOAD_IDLE_TIMEOUT_MS: "1500" } });
}

export function addressOf(cluster: TestCluster, name: "scheduler" | "staging" | "history" | "shuffle" | "executor"): string {
  const service = cluster.services.find((s) => s.name === name);
  if (!service) throw new Error(`the cluster has no ${name}`);
  return service.address;
}

/** The error a call failed with; fails the test when it succeeded. */
export async function failureOf(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("the call succeeded but should have failed");
}

/** Asserts the call fails with exactly `code` (and details matching `details`, when given). */
export async function expectStatus(promise: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<void> {
  const err = await failureOf(promise);
  expect({ code: err.code, details: err.details }, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`).toMatchObject({
    code,
    ...(details && { details: expect.stringMatching(details) }),
  });
}

// ------------------------------------------------------------ hand-made protobuf

function varint(value: bigint): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0n);
  return Buffer.from(bytes);
}

/** Protobuf fields, encoded by hand: values the generated encoders cannot produce (above 2^53, truncated). */
export const pb = {
  varint: (field: number, value: bigint) => Buffer.concat([varint(BigInt(field << 3)), varint(value)]),
  bytes: (field: number, value: Buffer | string) => {
    const data = typeof value === "string" ? Buffer.from(value) : value;
    return Buffer.concat([varint(BigInt((field << 3) | 2)), varint(BigInt(data.length)), data]);
  },
  /** A length-delimited field that announces more bytes than follow. */
  truncated: (field: number) => Buffer.concat([varint(BigInt((field << 3) | 2)), varint(100n), Buffer.from("short")]),
};

export const ABOVE_2_53 = 2n ** 60n;

const identity = (b: Buffer) => b;

/** A client for raw bytes, with this test process's (the cluster's) credentials: the cases test what comes after authentication. */
const rawClient = (address: string) => new grpc.Client(address, channelCredentials(), { interceptors: [authInterceptor] });

/** A unary call with raw request bytes to `path` ("/ballast.v1.X/Method"). */
export function rawUnary(address: string, path: string, request: Buffer): Promise<Buffer> {
  const client = rawClient(address);
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(path, identity, identity, request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      err ? reject(err) : resolve(res!);
    });
  });
}

/** A server-streaming call with raw request bytes; resolves with the messages when it ends well. */
export function rawServerStream(address: string, path: string, request: Buffer): Promise<Buffer[]> {
  const client = rawClient(address);
  const stream = client.makeServerStreamRequest(path, identity, identity, request, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
  return collect(stream, client);
}

/** A client- or bidi-streaming call that writes raw messages; resolves with what came back when it ends well. */
export function rawStream(address: string, path: string, messages: Buffer[], kind: "client" | "bidi"): Promise<Buffer[]> {
  const client = rawClient(address);
  const options = { deadline: Date.now() + 10_000 };
  if (kind === "client") {
    return new Promise((resolve, reject) => {
      const call = client.makeClientStreamRequest(path, identity, identity, new grpc.Metadata(), options, (err, res) => {
        client.close();
        err ? reject(err) : resolve([res!]);
      });
      for (const message of messages) call.write(message);
      call.end();
    });
  }
  const call = client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), options);
  for (const message of messages) call.write(message);
  call.end();
  return collect(call, client);
}

function collect(stream: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, client: grpc.Client): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    stream.on("data", (message: Buffer) => received.push(message));
    stream.on("error", (err) => {
      client.close();
      reject(err);
    });
    stream.on("end", () => {
      client.close();
      resolve(received);
    });
  });
}

// ------------------------------------------------------------ the closing check

/** Every service answers SERVING and a small job runs to its right answer. */
export async function expectClusterHealthy(cluster: TestCluster): Promise<void> {
  for (const service of cluster.services) {
    expect(await isServing(service.address, 5000), `${service.name} at ${service.address} is SERVING`).toBe(true);
  }
  const res = await runCli(["submit", "--dir", cluster.dir, "--json", "test/fixtures/collect-count.ts", "--", "--mode", "count"]);
  expect(res.code, res.stderr).toBe(0);
  expect(lastJson(res.stdout).result).toBe(3334);
}
