import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FetchedBlockStore, FetchMemory, readFetchedBlocks } from "./fetchedBlocks.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storeFor(memoryBytes: number, shared: FetchMemory): FetchedBlockStore {
  const dir = mkdtempSync(join(tmpdir(), "fetched-"));
  dirs.push(dir);
  return new FetchedBlockStore([{ shuffleIndex: 0, numMaps: 2 }], memoryBytes, dir, shared);
}

describe("fetched blocks held in memory across an executor's tasks", () => {
  it("a task past the executor's bound writes its blocks to disk, and reads them back the same", async () => {
    const shared = new FetchMemory(150);
    const first = storeFor(100, shared);
    const second = storeFor(100, shared);
    await first.keep(0, 0, new Uint8Array(100).fill(1));
    await second.keep(0, 0, new Uint8Array(60).fill(2)); // fits its own budget, not the executor's
    await second.keep(0, 1, new Uint8Array(50).fill(3));
    expect(first.blocks[0]![0]).toBeInstanceOf(Uint8Array);
    expect(second.blocks[0]![0]).not.toBeInstanceOf(Uint8Array);
    expect(second.blocks[0]![1]).toBeInstanceOf(Uint8Array);
    expect(second.bytesOnDisk).toBe(60);
    expect(shared.usedBytes).toBe(150);
    await second.close();
    expect([...readFetchedBlocks(second.blocks[0]!)].map((block) => [block.length, block[0]])).toEqual([[60, 2], [50, 3]]);
  });

  it("a task's end gives its bytes back, once", async () => {
    const shared = new FetchMemory(100);
    const first = storeFor(100, shared);
    await first.keep(0, 0, new Uint8Array(80));
    first.release();
    first.release();
    expect(shared.usedBytes).toBe(0);
    const next = storeFor(100, shared);
    await next.keep(0, 0, new Uint8Array(100));
    expect(next.blocks[0]![0]).toBeInstanceOf(Uint8Array);
  });
});
