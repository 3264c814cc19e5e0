// Real-process tests: the service as main.ts runs it, killed for real.
import * as grpc from "@grpc/grpc-js";
import { spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShuffleServiceClient, type FetchBlocksResponse, type WriteMapOutputRequest } from "@ballast/gen/shuffle";
import { CHUNK_BYTES, call, createClient } from "@ballast/common/grpc";
import { crc32 } from "@ballast/common/crc32";
import { ShuffleClient, ShuffleFetchError, type MapOutputRef } from "@ballast/clients/shuffle";
import { eventually, freePort, kill, MAIN, startService } from "./testing/processes.js";

function rawWrite(raw: ShuffleServiceClient, messages: WriteMapOutputRequest[], end = true) {
  let stream!: grpc.ClientWritableStream<WriteMapOutputRequest>;
  const result = new Promise<number[]>((resolve, reject) => {
    stream = raw.writeMapOutput({ deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res.partitionSizes)));
  });
  for (const message of messages) stream.write(message);
  if (end) stream.end();
  return { stream, result };
}

const header = (ref: MapOutputRef, numPartitions: number, expectedCrc32: number[] = []): WriteMapOutputRequest => ({
  message: { $case: "header", value: { id: ref, numPartitions, expectedCrc32 } },
});
const chunk = (partition: number, data: Uint8Array): WriteMapOutputRequest => ({ message: { $case: "chunk", value: { partition, data: Buffer.from(data) } } });
const commit: WriteMapOutputRequest = { message: { $case: "commit", value: {} } };

async function fetchError(promise: Promise<unknown>): Promise<ShuffleFetchError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ShuffleFetchError);
  return err as ShuffleFetchError;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(condition()).toBe(true);
}

const filesUnder = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);

describe("shuffle service process", () => {
  let dataDir: string;
  let address: string;
  let service: ChildProcess;
  let client: ShuffleClient;
  let raw: ShuffleServiceClient;
  const small: MapOutputRef = { shuffleId: "job1-sh0", mapIndex: 0, attempt: 0 };
  const big: MapOutputRef = { shuffleId: "job1-sh0", mapIndex: 1, attempt: 0 };
  const smallParts = [Buffer.from("alpha"), new Uint8Array(0), Buffer.from("gamma-gamma")];
  const bigBlock = randomBytes(5 * 1024 * 1024 + 123);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "ballast-shuffle-proc-"));
    address = `127.0.0.1:${await freePort()}`;
    service = await startService(address, dataDir);
    client = new ShuffleClient(address);
    raw = createClient(ShuffleServiceClient, address);
  });
  afterAll(async () => {
    client?.close();
    raw?.close();
    if (service?.exitCode === null) await kill(service, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("writes map outputs and serves their blocks; a 5 MB block comes in chunks with a correct CRC", async () => {
    expect(await client.writeMapOutput(small, smallParts)).toEqual([5, 0, 11]);
    expect(await client.writeMapOutput(big, [bigBlock, Buffer.from("tail")])).toEqual([bigBlock.length, 4]);
    const blocks = await client.fetchBlocks([0, 1, 2].map((partition) => ({ ref: small, partition })));
    expect(blocks.map((b) => Buffer.from(b).toString())).toEqual(["alpha", "", "gamma-gamma"]);
    expect(Buffer.from(await client.fetchBlock(big, 0)).equals(bigBlock)).toBe(true);
    // More chunks than the server stream buffers, so it has to wait for 'drain'.
    const many = await client.fetchBlocks([0, 1, 0, 1, 0].map((partition) => ({ ref: big, partition })));
    expect(many.map((b) => b.length)).toEqual([bigBlock.length, 4, bigBlock.length, 4, bigBlock.length]);
    expect(Buffer.from(many[4]!).equals(bigBlock)).toBe(true);

    const responses: FetchBlocksResponse[] = [];
    for await (const response of raw.fetchBlocks({ blocks: [{ mapOutput: big, partition: 0 }] })) responses.push(response);
    expect(responses.length).toBe(Math.ceil(bigBlock.length / CHUNK_BYTES));
    expect(responses.every((r) => r.data.length <= CHUNK_BYTES)).toBe(true);
    expect(responses.map((r) => r.last)).toEqual(responses.map((_, i) => i === responses.length - 1));
    expect(responses.at(-1)).toMatchObject({ size: bigBlock.length, crc32: crc32(bigBlock) });
  });

  it("rejects bad requests with INVALID_ARGUMENT or NOT_FOUND and keeps serving", async () => {
    const writes: Array<[WriteMapOutputRequest[], RegExp]> = [
      [[chunk(0, Buffer.from("x"))], /header must come first/],
      [[header({ shuffleId: "", mapIndex: 0, attempt: 0 }, 2)], /shuffle_id is required/],
      [[header({ shuffleId: "a/../b", mapIndex: 0, attempt: 0 }, 2)], /malformed/],
      [[header(small, 2), chunk(2, Buffer.from("x"))], /out of range/],
      [[header(small, 2), chunk(1, Buffer.from("x")), chunk(0, Buffer.from("y"))], /ascending order/],
      [[header({ ...small, mapIndex: 9 }, 2), chunk(0, Buffer.from("x"))], /ended before commit/],
      [[header({ ...small, mapIndex: 9 }, 2), commit, chunk(0, Buffer.from("x"))], /no message may follow commit/],
    ];
    for (const [messages, detail] of writes) {
      await expect(rawWrite(raw, messages).result).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(detail) });
    }
    const missingRef = { shuffleId: "job1-sh0", mapIndex: 42, attempt: 3 };
    const missing = await fetchError(client.fetchBlock(missingRef, 0));
    expect(missing).toMatchObject({ kind: "missing", address, ref: missingRef });
    expect(missing.message).toContain("job1-sh0/42.3");
    await expect(client.fetchBlock(small, 7)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.removeShuffle("", 1)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(call(raw.listMapOutputs.bind(raw), { shuffleId: ".." })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });

    // The rejected writes left nothing: the index and the data dir hold only the two good outputs.
    expect((await client.listMapOutputs()).map((o) => o.ref)).toEqual([small, big]);
    expect(filesUnder(join(dataDir, "data", "job1-sh0")).sort()).toEqual(["0.0.data", "1.0.data"]);
  });

  it("a write stream broken before commit leaves nothing", async () => {
    const broken: MapOutputRef = { shuffleId: "job1-sh0", mapIndex: 5, attempt: 0 };
    const { stream, result } = rawWrite(raw, [header(broken, 2), chunk(0, randomBytes(100_000))], false);
    const shuffleDir = join(dataDir, "data", "job1-sh0");
    await waitFor(() => filesUnder(shuffleDir).some((f) => f.endsWith(".partial")));
    stream.cancel();
    await expect(result).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    await waitFor(() => !filesUnder(shuffleDir).some((f) => f.endsWith(".partial")));
    expect((await fetchError(client.fetchBlock(broken, 0))).kind).toBe("missing");
    expect(await client.listMapOutputs("job1-sh0")).toHaveLength(2);
  });

  it("committed outputs survive SIGKILL; a write cut by the crash is discarded at restart", async () => {
    const cut: MapOutputRef = { shuffleId: "job1-sh1", mapIndex: 0, attempt: 0 };
    rawWrite(raw, [header(cut, 1), chunk(0, randomBytes(50_000))], false).result.catch(() => undefined);
    await waitFor(() => filesUnder(join(dataDir, "data", "job1-sh1")).some((f) => f.endsWith(".partial")));
    await kill(service, "SIGKILL");
    expect((await fetchError(client.fetchBlock(small, 0, 2000))).kind).toBe("unreachable");

    service = await startService(address, dataDir);
    expect(filesUnder(join(dataDir, "data")).some((f) => f.endsWith(".partial"))).toBe(false);
    const listed = await eventually(() => client.listMapOutputs());
    expect(listed.map((o) => [o.ref, o.partitionSizes])).toEqual([
      [small, [5, 0, 11]],
      [big, [bigBlock.length, 4]],
    ]);
    expect(Buffer.from(await client.fetchBlock(small, 2)).toString()).toBe("gamma-gamma");
    expect(Buffer.from(await client.fetchBlock(big, 0)).equals(bigBlock)).toBe(true);
  });

  it("reports a byte flipped on disk as corrupt", async () => {
    const file = join(dataDir, "data", "job1-sh0", "0.0.data");
    const bytes = readFileSync(file);
    bytes[7]! ^= 0xff; // inside partition 2 ("gamma-gamma" starts at offset 5)
    writeFileSync(file, bytes);
    const corrupt = await fetchError(client.fetchBlock(small, 2));
    expect(corrupt).toMatchObject({ kind: "corrupt", ref: small, partition: 2 });
    expect(corrupt.message).toMatch(/CRC-32 mismatch/);
    expect(Buffer.from(await client.fetchBlock(small, 0)).toString()).toBe("alpha");
  });

  it("removes a shuffle, and stops gracefully on SIGTERM", async () => {
    expect(await client.removeShuffle("job1-sh0", 1)).toBe(2);
    expect(await client.listMapOutputs()).toEqual([]);
    expect(existsSync(join(dataDir, "data", "job1-sh0"))).toBe(false);
    expect(await kill(service, "SIGTERM")).toBe(0);
  });
});

describe("shuffle service flags", () => {
  it.each([
    [["--address", "nowhere", "--data-dir", "/tmp/x"], /--address must be HOST:PORT/],
    [["--address", "127.0.0.1:99999", "--data-dir", "/tmp/x"], /--address must be HOST:PORT/],
    [[], /--data-dir \(or BALLAST_DATA_DIR\) is required/],
  ])("%j exits 2 with a one-line error", (args, message) => {
    const { status, stderr, stdout } = spawnSync(process.execPath, [MAIN, ...args], {
      encoding: "utf8",
      env: { ...process.env, BALLAST_DATA_DIR: "", BALLAST_SHUFFLE_ADDRESS: "" },
    });
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(message);
  });
});
