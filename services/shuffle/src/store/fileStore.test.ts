import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { crc32 } from "@ballast/common/crc32";
import { InvalidArgumentError, NotFoundError } from "@ballast/common/errors";
import type { MapOutputKey } from "../core/ids.js";
import { PartitionLayoutBuilder } from "../core/layout.js";
import { FileMapOutputStore } from "./fileStore.js";
import type { MapOutputStore } from "./mapOutputStore.js";

const keyA: MapOutputKey = { shuffleId: "job1-sh0", mapIndex: 0, attempt: 0 };
const keyB: MapOutputKey = { shuffleId: "job1-sh0", mapIndex: 1, attempt: 0 };

async function writeOutput(store: MapOutputStore, key: MapOutputKey, partitions: string[]) {
  const layout = new PartitionLayoutBuilder(partitions.length);
  const writer = await store.beginWrite(key);
  for (const [partition, text] of partitions.entries()) {
    const data = Buffer.from(text);
    layout.add(partition, data);
    await writer.append(data);
  }
  return writer.commit(layout.entries());
}

async function readBlock(store: MapOutputStore, key: MapOutputKey, partition: number, chunkBytes = 4) {
  const reader = await store.openBlock(key, partition);
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of reader.chunks(chunkBytes)) chunks.push(chunk.data);
  } finally {
    await reader.close();
  }
  const data = Buffer.concat(chunks);
  return { text: data.toString(), chunks: chunks.length, crcMatches: crc32(data) === reader.crc32, size: reader.size };
}

describe("FileMapOutputStore", () => {
  let dir: string;
  let store: FileMapOutputStore;
  const shuffleDir = () => join(dir, "data", "job1-sh0");

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-shuffle-store-"));
    store = FileMapOutputStore.open(dir, { now: () => 1234 });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes, indexes and reads blocks back in chunks with matching CRCs", async () => {
    const record = await writeOutput(store, keyA, ["hello world", "", "bye"]);
    expect(record.partitions.map((p) => p.size)).toEqual([11, 0, 3]);
    expect(await readBlock(store, keyA, 0)).toEqual({ text: "hello world", chunks: 3, crcMatches: true, size: 11 });
    expect(await readBlock(store, keyA, 1)).toEqual({ text: "", chunks: 1, crcMatches: true, size: 0 });
    expect(await readBlock(store, keyA, 2)).toMatchObject({ text: "bye", crcMatches: true });
    expect(await store.list()).toEqual([{ key: keyA, numPartitions: 3, partitions: record.partitions, committedAtMs: 1234 }]);
    expect(readdirSync(shuffleDir())).toEqual(["0.0.data"]);
  });

  it("rejects unknown outputs and partitions out of range", async () => {
    await writeOutput(store, keyA, ["x"]);
    await expect(store.openBlock(keyB, 0)).rejects.toThrow(NotFoundError);
    await expect(store.openBlock(keyA, 1)).rejects.toThrow(InvalidArgumentError);
  });

  it("replaces an output with the same key atomically, while an open reader keeps the old bytes", async () => {
    await writeOutput(store, keyA, ["old-0", "old-1"]);
    const oldReader = await store.openBlock(keyA, 1);
    await writeOutput(store, keyA, ["new-zero", "new-one!"]);
    expect(await readBlock(store, keyA, 1)).toMatchObject({ text: "new-one!", crcMatches: true });
    const oldChunks: Uint8Array[] = [];
    for await (const chunk of oldReader.chunks(64)) oldChunks.push(chunk.data);
    await oldReader.close();
    expect(Buffer.concat(oldChunks).toString()).toBe("old-1");
    expect(await store.list()).toHaveLength(1);
    expect(readdirSync(shuffleDir())).toEqual(["0.0.data"]);
  });

  it("leaves nothing behind for an aborted write or an inconsistent layout", async () => {
    const writer = await store.beginWrite(keyA);
    await writer.append(Buffer.from("abc"));
    await writer.abort();
    const bad = await store.beginWrite(keyB);
    await bad.append(Buffer.from("abc"));
    await expect(bad.commit([{ offset: 0, size: 2, crc32: 0 }])).rejects.toThrow(/cover 2 bytes but 3 were written/);
    await bad.abort();
    expect(await store.list()).toEqual([]);
    expect(readdirSync(shuffleDir())).toEqual([]);
  });

  it("at start removes partial files, orphan data files and rows whose file is gone", async () => {
    await writeOutput(store, keyA, ["keep"]);
    await writeOutput(store, keyB, ["file lost"]);
    await store.close();
    rmSync(join(shuffleDir(), "1.0.data"));
    writeFileSync(join(shuffleDir(), "2.0.data.123-1.partial"), "half");
    writeFileSync(join(shuffleDir(), "7.1.data"), "never indexed");
    writeFileSync(join(shuffleDir(), "notes.txt"), "not ours");
    store = FileMapOutputStore.open(dir);
    expect(store.recovery).toEqual({ partialFilesRemoved: 1, orphanFilesRemoved: 1, rowsWithoutFileDropped: 1 });
    expect(readdirSync(shuffleDir()).sort()).toEqual(["0.0.data", "notes.txt"]);
    expect((await store.list()).map((r) => r.key)).toEqual([keyA]);
    expect(await readBlock(store, keyA, 0)).toMatchObject({ text: "keep", crcMatches: true });
  });

  it("removes a shuffle's rows and files", async () => {
    await writeOutput(store, keyA, ["a"]);
    await writeOutput(store, keyB, ["b"]);
    await writeOutput(store, { shuffleId: "job1-sh1", mapIndex: 0, attempt: 0 }, ["c"]);
    expect(await store.removeShuffle("job1-sh0")).toBe(2);
    expect(existsSync(shuffleDir())).toBe(false);
    expect((await store.list()).map((r) => r.key.shuffleId)).toEqual(["job1-sh1"]);
    await expect(store.openBlock(keyA, 0)).rejects.toThrow(NotFoundError);
    expect(await store.removeShuffle("job1-sh0")).toBe(0);
  });

  it("reads a whole output in partition order, skipping empty partitions, from the version it opened", async () => {
    await writeOutput(store, keyA, ["hello", "", "world!"]);
    const reader = await store.openMapOutput(keyA);
    await writeOutput(store, keyA, ["replaced"]);
    const chunks: Array<[number, string]> = [];
    for await (const chunk of reader.chunks(4)) chunks.push([chunk.partition, Buffer.from(chunk.data).toString()]);
    await reader.close();
    expect(chunks).toEqual([[0, "hell"], [0, "o"], [2, "worl"], [2, "d!"]]);
    expect(reader.record.partitions.map((p) => p.crc32)).toEqual([crc32(Buffer.from("hello")), 0, crc32(Buffer.from("world!"))]);
    await expect(store.openMapOutput(keyB)).rejects.toThrow(NotFoundError);
  });

  it("keeps the highest scheduler epoch durably and never lowers it", async () => {
    expect(await store.raiseSchedulerEpoch(3)).toBe(0);
    expect(await store.raiseSchedulerEpoch(2)).toBe(3);
    expect(await store.raiseSchedulerEpoch(5)).toBe(3);
    await store.close();
    store = FileMapOutputStore.open(dir);
    expect(await store.raiseSchedulerEpoch(0)).toBe(5);
  });
});
