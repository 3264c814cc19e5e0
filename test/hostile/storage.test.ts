// Hostile input to the shuffle service, staging and the executor: epochs, ids, undecodable bytes, stalled uploads.
import { status } from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutorServiceClient } from "@ballast/gen/executor";
import { ShuffleServiceClient, type MigrateMapOutputsRequest, type WriteMapOutputRequest } from "@ballast/gen/shuffle";
import { StagingServiceClient, type UploadRequest, type UploadResponse } from "@ballast/gen/staging";
import { call, createClient } from "@ballast/common/grpc";
import { ABOVE_2_53, addressOf, expectClusterHealthy, expectStatus, failureOf, pb, rawServerStream, rawStream, rawUnary, startHostileCluster, type TestCluster } from "./support.js";

let cluster: TestCluster;
let shuffle: InstanceType<typeof ShuffleServiceClient>;
let staging: InstanceType<typeof StagingServiceClient>;
let shuffleAddress: string;

beforeAll(async () => {
  cluster = await startHostileCluster();
  shuffleAddress = addressOf(cluster, "shuffle");
  shuffle = createClient(ShuffleServiceClient, shuffleAddress);
  staging = createClient(StagingServiceClient, cluster.staging);
});

afterAll(async () => {
  shuffle?.close();
  staging?.close();
  await cluster?.stop();
});

const long = (n: number) => "x".repeat(n);

/** Server-streaming calls as promises of their messages. */
function streamed<T>(stream: NodeJS.EventEmitter): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const messages: T[] = [];
    stream.on("data", (m: T) => messages.push(m));
    stream.on("error", reject);
    stream.on("end", () => resolve(messages));
  });
}

const migrate = (request: Partial<MigrateMapOutputsRequest>) =>
  streamed(shuffle.migrateMapOutputs({ peerAddresses: [shuffleAddress], parallelism: 1, schedulerEpoch: 1, shuffleIds: ["nothing-here"], ...request }));

function writeOutput(messages: WriteMapOutputRequest[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const stream = shuffle.writeMapOutput((err, res) => (err ? reject(err) : resolve(res)));
    for (const message of messages) stream.write(message);
    stream.end();
  });
}

const header = (overrides: { shuffleId?: string; numPartitions?: number } = {}): WriteMapOutputRequest => ({
  message: { $case: "header", value: { id: { shuffleId: overrides.shuffleId ?? "hostile-sh0", mapIndex: 0, attempt: 0 }, numPartitions: overrides.numPartitions ?? 1, expectedCrc32: [] } },
});

describe("shuffle: epochs fence, and 0 is no bypass", () => {
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ["RemoveShuffle with epoch 0", () => call(shuffle.removeShuffle.bind(shuffle), { shuffleId: "hostile-sh0", schedulerEpoch: 0 }), /scheduler_epoch must be an integer >= 1/],
    ["MigrateMapOutputs with epoch 0", () => migrate({ schedulerEpoch: 0 }), /scheduler_epoch must be an integer >= 1/],
  ];
  it.each(cases)("%s is INVALID_ARGUMENT", async (_name, request, details) => {
    await expectStatus(request(), status.INVALID_ARGUMENT, details);
  });

  it("RemoveShuffle with an epoch above 2^53 is INVALID_ARGUMENT, and the fence did not move", async () => {
    await expectStatus(rawUnary(shuffleAddress, "/ballast.v1.ShuffleService/RemoveShuffle", Buffer.concat([pb.bytes(1, "hostile-sh0"), pb.varint(2, ABOVE_2_53)])), status.INVALID_ARGUMENT, /above 2\^53/);
    // The scheduler's own epoch (1 for the first leader) is still current.
    expect(await call(shuffle.removeShuffle.bind(shuffle), { shuffleId: "hostile-sh0", schedulerEpoch: 1 })).toEqual({ removed: 0 });
  });

  it("MigrateMapOutputs with an epoch above 2^53 is INVALID_ARGUMENT", async () => {
    const request = Buffer.concat([pb.bytes(1, shuffleAddress), pb.varint(3, ABOVE_2_53)]);
    await expectStatus(rawServerStream(shuffleAddress, "/ballast.v1.ShuffleService/MigrateMapOutputs", request), status.INVALID_ARGUMENT, /above 2\^53/);
  });
});

describe("shuffle: ids, sizes and write protocol", () => {
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ["RemoveShuffle without shuffle_id", () => call(shuffle.removeShuffle.bind(shuffle), { shuffleId: "", schedulerEpoch: 1 }), /shuffle_id is required/],
    ["RemoveShuffle with a path in shuffle_id", () => call(shuffle.removeShuffle.bind(shuffle), { shuffleId: "../../etc", schedulerEpoch: 1 }), /malformed/],
    ["RemoveShuffle with a 201-character shuffle_id", () => call(shuffle.removeShuffle.bind(shuffle), { shuffleId: long(201), schedulerEpoch: 1 }), /malformed/],
    ["RemoveShuffle with a hidden-file shuffle_id", () => call(shuffle.removeShuffle.bind(shuffle), { shuffleId: ".hidden", schedulerEpoch: 1 }), /malformed/],
    ["ListMapOutputs with a slash in shuffle_id", () => call(shuffle.listMapOutputs.bind(shuffle), { shuffleId: "a/b" }), /malformed/],
    ["FetchBlocks without map_output", () => streamed(shuffle.fetchBlocks({ blocks: [{ mapOutput: undefined, partition: 0 }] })), /map_output is required/],
    ["FetchBlocks with a newline in shuffle_id", () => streamed(shuffle.fetchBlocks({ blocks: [{ mapOutput: { shuffleId: "a\nb", mapIndex: 0, attempt: 0 }, partition: 0 }] })), /malformed/],
    ["WriteMapOutput starting with a chunk", () => writeOutput([{ message: { $case: "chunk", value: { partition: 0, data: Buffer.from("x") } } }]), /header/],
    ["WriteMapOutput with zero partitions", () => writeOutput([header({ numPartitions: 0 })]), /num_partitions must be between/],
    ["WriteMapOutput with absurd partitions", () => writeOutput([header({ numPartitions: 4_000_000_000 })]), /num_partitions must be between/],
    ["WriteMapOutput with a bad shuffle_id", () => writeOutput([header({ shuffleId: "../x" })]), /malformed/],
    ["WriteMapOutput with a chunk for a partition it does not have", () => writeOutput([header(), { message: { $case: "chunk", value: { partition: 5, data: Buffer.from("x") } } }]), /partition/],
    ["MigrateMapOutputs without peers", () => migrate({ peerAddresses: [] }), /peer_addresses is required/],
    ["MigrateMapOutputs with a newline in a peer", () => migrate({ peerAddresses: ["127.0.0.1:1\nx"] }), /HOST:PORT/],
    ["MigrateMapOutputs with a bad shuffle id", () => migrate({ shuffleIds: ["../x"] }), /malformed/],
  ];
  it.each(cases)("%s is INVALID_ARGUMENT", async (_name, request, details) => {
    await expectStatus(request(), status.INVALID_ARGUMENT, details);
  });

  it("a WriteMapOutput stream with a message that does not decode is INVALID_ARGUMENT, and nothing was written", async () => {
    const headerBytes = pb.bytes(1, Buffer.concat([pb.bytes(1, Buffer.concat([pb.bytes(1, "hostile-sh1")])), pb.varint(2, 1n)]));
    await expectStatus(rawStream(shuffleAddress, "/ballast.v1.ShuffleService/WriteMapOutput", [headerBytes, pb.truncated(2)], "client"), status.INVALID_ARGUMENT, /does not decode/);
    expect((await call(shuffle.listMapOutputs.bind(shuffle), { shuffleId: "hostile-sh1" })).outputs).toEqual([]);
  });

  it("a truncated ListMapOutputs is INVALID_ARGUMENT", async () => {
    await expectStatus(rawUnary(shuffleAddress, "/ballast.v1.ShuffleService/ListMapOutputs", pb.truncated(1)), status.INVALID_ARGUMENT, /does not decode/);
  });
});

// ------------------------------------------------------------------ staging

const CONTENT = Buffer.from("hostile staging content\n".repeat(100));
const SHA = createHash("sha256").update(CONTENT).digest("hex");

/** An upload that writes `messages`, then waits `holdMs` before ending its side (0: ends at once). */
function upload(messages: UploadRequest[], holdMs = 0): Promise<UploadResponse> {
  return new Promise((resolve, reject) => {
    const stream = staging.upload((err, res) => (err ? reject(err) : resolve(res!)));
    for (const message of messages) stream.write(message);
    if (holdMs === 0) stream.end();
    else setTimeout(() => stream.end(), holdMs).unref();
  });
}

const uploadHeader = (overrides: { name?: string; sha256?: string; size?: number } = {}): UploadRequest => ({
  message: { $case: "header", value: { name: overrides.name ?? "hostile/data.txt", sha256: overrides.sha256 ?? SHA, size: overrides.size ?? CONTENT.length, offset: 0 } },
});
const chunk = (data: Buffer): UploadRequest => ({ message: { $case: "chunk", value: data } });

describe("staging: names, digests and numbers", () => {
  const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
    ["an upload that starts with a chunk", () => upload([chunk(CONTENT)]), status.INVALID_ARGUMENT, /must start with a header/],
    ["an upload with a digest that is not sha256", () => upload([uploadHeader({ sha256: "abc" })]), status.INVALID_ARGUMENT, /sha256/],
    ["an upload named with a path that escapes", () => upload([uploadHeader({ name: "../../etc/passwd" })]), status.INVALID_ARGUMENT, /segment not allowed/],
    ["an upload named absolutely", () => upload([uploadHeader({ name: "/etc/passwd" })]), status.INVALID_ARGUMENT, /must be relative/],
    ["Stat of an over-long name", () => call(staging.stat.bind(staging), { name: long(600), sha256: "" }), status.INVALID_ARGUMENT, /longer than 512/],
    ["Stat with both name and digest", () => call(staging.stat.bind(staging), { name: "a", sha256: SHA }), status.INVALID_ARGUMENT, /not both/],
    ["Stat of a name with a newline", () => call(staging.stat.bind(staging), { name: "a\nb", sha256: "" }), status.INVALID_ARGUMENT, /segments may only contain/],
    ["Stat of an unknown name", () => call(staging.stat.bind(staging), { name: "no/such/blob", sha256: "" }), status.NOT_FOUND, /./],
    ["List with a prefix outside the name alphabet", () => call(staging.list.bind(staging), { prefix: "a b" }), status.INVALID_ARGUMENT, /invalid name prefix/],
    ["Delete without a name", () => call(staging.delete.bind(staging), { name: "" }), status.INVALID_ARGUMENT, /empty/],
    ["Link to a digest that is not sha256", () => call(staging.link.bind(staging), { name: "a", sha256: "zz" }), status.INVALID_ARGUMENT, /sha256/],
    ["Promote with an empty remove prefix (a whole space)", () => call(staging.promote.bind(staging), { commitId: "", bindings: [], removePrefix: "" }), status.INVALID_ARGUMENT, /ending in '\/'/],
    ["Promote with a remove prefix that escapes", () => call(staging.promote.bind(staging), { commitId: "", bindings: [], removePrefix: "../users/" }), status.INVALID_ARGUMENT, /segment not allowed/],
    ["Promote of a binding with no source", () => call(staging.promote.bind(staging), { commitId: "", bindings: [{ name: "out/part-00000", sourceName: "", sha256: "" }], removePrefix: "out/" }), status.INVALID_ARGUMENT, /no source/],
    ["Promote binding one name twice", () => call(staging.promote.bind(staging), { commitId: "", bindings: [{ name: "out/x", sourceName: "", sha256: SHA }, { name: "out/x", sourceName: "", sha256: SHA }], removePrefix: "out/" }), status.INVALID_ARGUMENT, /twice/],
    ["Promote with an over-long commit id", () => call(staging.promote.bind(staging), { commitId: long(300), bindings: [], removePrefix: "out/" }), status.INVALID_ARGUMENT, /commit id is longer/],
    ["Promote from a missing source", () => call(staging.promote.bind(staging), { commitId: "", bindings: [{ name: "out/part-00000", sourceName: "out/_temporary/none/part-00000", sha256: "" }], removePrefix: "out/" }), status.NOT_FOUND, /no such name/],
    ["GetUploadStatus of a bad digest", () => call(staging.getUploadStatus.bind(staging), { sha256: "X".repeat(64) }), status.INVALID_ARGUMENT, /sha256/],
    ["Download of a bad digest", () => streamed(staging.download({ name: "", sha256: "nope", offset: 0, length: 0 })), status.INVALID_ARGUMENT, /sha256/],
  ];
  it.each(cases)("%s", async (_name, request, code, details) => {
    await expectStatus(request(), code, details);
  });

  const raw: Array<[string, string, Buffer, "unary" | "server" | "client"]> = [
    ["Download offset above 2^53", "Download", Buffer.concat([pb.bytes(2, SHA), pb.varint(3, ABOVE_2_53)]), "server"],
    ["Download length above 2^53", "Download", Buffer.concat([pb.bytes(2, SHA), pb.varint(4, ABOVE_2_53)]), "server"],
    ["a truncated Stat", "Stat", pb.truncated(1), "unary"],
    ["an upload header with size above 2^53", "Upload", pb.bytes(1, Buffer.concat([pb.bytes(2, SHA), pb.varint(3, ABOVE_2_53)])), "client"],
    ["an upload message that does not decode", "Upload", pb.truncated(2), "client"],
  ];
  it.each(raw)("%s is INVALID_ARGUMENT (raw bytes)", async (_name, method, bytes, kind) => {
    const path = `/ballast.v1.StagingService/${method}`;
    const answer = kind === "unary" ? rawUnary(cluster.staging, path, bytes) : kind === "server" ? rawServerStream(cluster.staging, path, bytes) : rawStream(cluster.staging, path, [bytes], "client");
    await expectStatus(answer, status.INVALID_ARGUMENT, /does not decode|above 2\^53/);
  });
});

describe("staging: a stalled upload times out and frees its lock", () => {
  it("holds the lock while the upload is live (ABORTED for a second one), then ends it DEADLINE_EXCEEDED", async () => {
    const half = CONTENT.subarray(0, CONTENT.length / 2);
    const stalled = failureOf(upload([uploadHeader(), chunk(half)], 10_000));
    await new Promise((r) => setTimeout(r, 300));
    await expectStatus(upload([uploadHeader(), chunk(CONTENT)]), status.ABORTED, /already in progress/);
    const err = await stalled;
    expect(err).toMatchObject({ code: status.DEADLINE_EXCEEDED, details: expect.stringMatching(/upload idle for 1500 ms/) });
  });

  it("after the timeout the upload resumes where it stopped (the lock was freed) and reads back whole", async () => {
    const { committedOffset, complete } = await call(staging.getUploadStatus.bind(staging), { sha256: SHA });
    expect({ committedOffset, complete }).toEqual({ committedOffset: CONTENT.length / 2, complete: false });
    const resume: UploadRequest = { message: { $case: "header", value: { name: "hostile/data.txt", sha256: SHA, size: CONTENT.length, offset: committedOffset } } };
    const { blob } = await upload([resume, chunk(CONTENT.subarray(committedOffset))]);
    expect(blob).toMatchObject({ sha256: SHA, size: CONTENT.length, name: "hostile/data.txt" });
    const parts = await streamed<{ data: Buffer }>(staging.download({ name: "hostile/data.txt", sha256: "", offset: 0, length: 0 }));
    expect(Buffer.concat(parts.map((p) => p.data)).equals(CONTENT)).toBe(true);
  });

  it("an upload that never sends its header times out too", async () => {
    await expectStatus(upload([], 10_000), status.DEADLINE_EXCEEDED, /upload idle/);
  });
});

// ------------------------------------------------------------------ executor

describe("executor: its status service refuses what does not decode", () => {
  const cases: Array<[string, Buffer]> = [
    ["a truncated field", pb.truncated(1)],
    ["garbage bytes", Buffer.from([0xff, 0xff, 0xff, 0xff])],
  ];
  it.each(cases)("%s is INVALID_ARGUMENT", async (_name, bytes) => {
    await expectStatus(rawUnary(addressOf(cluster, "executor"), "/ballast.v1.ExecutorService/GetExecutorStatus", bytes), status.INVALID_ARGUMENT, /does not decode/);
  });

  it("and still answers a well-formed call", async () => {
    const executor = createClient(ExecutorServiceClient, addressOf(cluster, "executor"));
    try {
      expect(await call(executor.getExecutorStatus.bind(executor), {})).toMatchObject({ connected: true, executorId: expect.any(String) });
    } finally {
      executor.close();
    }
  });
});

describe("at the end", () => {
  it("every service is SERVING and a small job still runs", async () => {
    await expectClusterHealthy(cluster);
  });
});
