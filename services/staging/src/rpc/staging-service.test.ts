import { status, type ServiceError } from "@grpc/grpc-js";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createClient } from "@ballast/common/grpc";
import { StagingServiceClient, type UploadHeader, type UploadResponse } from "@ballast/gen/staging";
import { StagingClient } from "@ballast/clients/staging";
import { startStagingServer, type StagingServer } from "../server.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const MIB = 1024 * 1024;

let dir: string;
let server: StagingServer;
let client: StagingClient;
let raw: StagingServiceClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "staging-rpc-"));
  server = await startStagingServer({ address: "127.0.0.1:0", dataDir: join(dir, "data") });
  client = new StagingClient(server.address, { maxRetries: 1, initialBackoffMs: 10 });
  raw = createClient(StagingServiceClient, server.address);
});

afterAll(async () => {
  client?.close();
  raw?.close();
  await server?.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

/** A raw Upload call, to send what the real client never would. */
function rawUpload(header: Partial<UploadHeader> | undefined, chunks: Uint8Array[]): Promise<UploadResponse> {
  return new Promise((resolve, reject) => {
    const stream = raw.upload((err, res) => (err ? reject(err) : resolve(res)));
    if (header) stream.write({ message: { $case: "header", value: { name: "", sha256: "", size: 0, offset: 0, ...header } } });
    for (const chunk of chunks) stream.write({ message: { $case: "chunk", value: Buffer.from(chunk) } });
    stream.end();
  });
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (err: ServiceError) => ({ code: err.code, details: err.details }),
  );

describe("staging service", () => {
  it("uploads a file, then stats, lists, downloads and ranges it", async () => {
    const data = randomBytes(3 * MIB + 123);
    const path = join(dir, "input.bin");
    writeFileSync(path, data);
    const info = await client.uploadFile(path, "inputs/input.bin");
    expect(info).toMatchObject({ name: "inputs/input.bin", sha256: sha256(data), size: data.length });
    expect(await client.stat({ name: "inputs/input.bin" })).toEqual(info);
    expect((await client.list("inputs/")).map((b) => b.name)).toEqual(["inputs/input.bin"]);

    const dest = join(dir, "out", "copy.bin");
    expect(await client.downloadToFile({ name: "inputs/input.bin" }, dest)).toEqual(info);
    expect(readFileSync(dest).equals(data)).toBe(true);

    const range = await client.downloadBytes({ sha256: info.sha256 }, { offset: MIB - 10, length: 2 * MIB + 20 });
    expect(Buffer.from(range).equals(data.subarray(MIB - 10, 3 * MIB + 10))).toBe(true);
    const tail = await client.downloadBytes({ name: "inputs/input.bin" }, { offset: data.length - 5, length: 0 });
    expect(Buffer.from(tail).equals(data.subarray(data.length - 5))).toBe(true);
  });

  it("sends downloads in chunks of at most CHUNK_BYTES", async () => {
    const data = randomBytes(2 * MIB + 1);
    const info = await client.uploadBytes(data);
    const sizes: number[] = [];
    for await (const message of raw.download({ name: "", sha256: info.sha256, offset: 0, length: 0 })) sizes.push(message.data.length);
    expect(sizes).toEqual([MIB, MIB, 1]);
  });

  it("handles empty blobs and repeated uploads", async () => {
    const empty = await client.uploadBytes(new Uint8Array(), "empty");
    expect(empty.size).toBe(0);
    expect((await client.downloadBytes({ name: "empty" })).length).toBe(0);
    const again = await client.uploadBytes(new Uint8Array(), "empty-too");
    expect(again).toMatchObject({ name: "empty-too", sha256: empty.sha256, createdAtMs: empty.createdAtMs });
  });

  it("resumes an interrupted upload from its committed offset", async () => {
    const data = randomBytes(3 * MIB);
    const hash = sha256(data);
    const partial = codeOf(rawUpload({ sha256: hash, size: data.length }, [data.subarray(0, MIB), data.subarray(MIB, 2 * MIB)]));
    expect(await partial).toEqual({ code: status.FAILED_PRECONDITION, details: expect.stringContaining("resume from offset 2097152") });
    expect(await client.uploadStatus(hash)).toEqual({ committedOffset: 2 * MIB, complete: false });
    expect(await codeOf(rawUpload({ sha256: hash, size: data.length, offset: 0 }, [data]))).toEqual({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(/^resume from offset 2097152/),
    });

    const offsets: number[] = [];
    const resuming = new StagingClient(server.address, { onUploadAttempt: (a) => offsets.push(a.offset) });
    try {
      const info = await resuming.uploadBytes(data, "resumed");
      expect(offsets).toEqual([2 * MIB]);
      expect(Buffer.from(await resuming.downloadBytes({ name: "resumed" })).equals(data)).toBe(true);
      expect(info.sha256).toBe(hash);
    } finally {
      resuming.close();
    }
  });

  it("rejects a digest mismatch and shows nothing of it", async () => {
    const data = randomBytes(100_000);
    const claimed = sha256(Buffer.from("not the data"));
    const result = await codeOf(rawUpload({ sha256: claimed, size: data.length, name: "bad/blob" }, [data]));
    expect(result).toEqual({ code: status.INVALID_ARGUMENT, details: `digest mismatch: expected ${claimed}, got ${sha256(data)}` });
    await expect(client.stat({ name: "bad/blob" })).rejects.toMatchObject({ name: "NotFoundError" });
    await expect(client.stat({ sha256: claimed })).rejects.toMatchObject({ name: "NotFoundError" });
    expect(await client.list("bad")).toEqual([]);
    expect(await client.uploadStatus(claimed)).toEqual({ committedOffset: 0, complete: false });
  });

  it("refuses malformed uploads with INVALID_ARGUMENT", async () => {
    const data = randomBytes(1000);
    const hash = sha256(data);
    const cases: Array<[Partial<UploadHeader> | undefined, Uint8Array[], RegExp]> = [
      [undefined, [data], /must start with a header/],
      [{ sha256: "ABC", size: 1 }, [], /invalid sha256/],
      [{ sha256: hash, size: data.length, name: "../../etc/passwd" }, [data], /invalid name/],
      [{ sha256: hash, size: data.length, name: "/abs" }, [data], /invalid name/],
      [{ sha256: hash, size: data.length, offset: data.length + 1 }, [], /invalid offset/],
      [{ sha256: hash, size: data.length }, [data, Buffer.from("extra")], /more than its declared size/],
    ];
    for (const [header, chunks, message] of cases) {
      expect(await codeOf(rawUpload(header, chunks))).toEqual({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(message) });
    }
  });

  it("answers bad lookups with the right status and keeps serving", async () => {
    const stat = (name: string, sha: string) => codeOf(call(raw.stat.bind(raw), { name, sha256: sha }));
    expect(await stat("a/../../b", "")).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^invalid name/) });
    expect(await stat("", "xyz")).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(await stat("", "")).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(await stat("no/such/name", "")).toMatchObject({ code: status.NOT_FOUND });
    expect(await codeOf(call(raw.link.bind(raw), { name: "x", sha256: "0".repeat(64) }))).toMatchObject({ code: status.NOT_FOUND });
    expect(await codeOf(call(raw.delete.bind(raw), { name: "" }))).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(await codeOf(call(raw.list.bind(raw), { prefix: "a b" }))).toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(client.downloadBytes({ name: "no/such/name" })).rejects.toMatchObject({ name: "NotFoundError" });

    const info = await client.uploadBytes(Buffer.from("0123456789"), "digits");
    await expect(client.downloadBytes({ name: "digits" }, { offset: 5, length: 6 })).rejects.toMatchObject({ code: status.OUT_OF_RANGE });
    await expect(client.downloadBytes({ name: "digits" }, { offset: 11, length: 0 })).rejects.toMatchObject({ code: status.OUT_OF_RANGE });
    expect(Buffer.from(await client.downloadBytes({ name: "digits" }, { offset: 3, length: 4 })).toString()).toBe("3456");
    expect(await client.stat({ sha256: info.sha256 })).toMatchObject({ size: 10 });
  });

  it("links and deletes names; the blob goes with its last name", async () => {
    const info = await client.uploadBytes(Buffer.from("output"), "jobs/1/_tmp/part-0");
    expect(await client.link("jobs/1/part-0", info.sha256)).toMatchObject({ name: "jobs/1/part-0", sha256: info.sha256 });
    expect(await client.delete("jobs/1/_tmp/part-0")).toBe(true);
    expect(Buffer.from(await client.downloadBytes({ name: "jobs/1/part-0" })).toString()).toBe("output");
    expect(await client.delete("jobs/1/part-0")).toBe(true);
    expect(await client.delete("jobs/1/part-0")).toBe(false);
    await expect(client.stat({ sha256: info.sha256 })).rejects.toMatchObject({ name: "NotFoundError" });
  });
});
