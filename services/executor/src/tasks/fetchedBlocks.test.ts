import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FetchedBlockStore, FetchMemory, FetchTurns, readFetchedBlocks } from "./fetchedBlocks.js";

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

describe("tasks take turns to fetch", () => {
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it("lets `concurrency` tasks fetch at once and the rest in the order they came", async () => {
    const turns = new FetchTurns(2);
    const order: number[] = [];
    const ends = new Map<number, () => void>();
    for (const task of [1, 2, 3, 4]) void turns.take().then((end) => (order.push(task), ends.set(task, end)));
    await settled();
    expect(order).toEqual([1, 2]);
    ends.get(2)!();
    ends.get(2)!(); // ending twice hands over one turn
    await settled();
    expect(order).toEqual([1, 2, 3]);
    expect(turns.fetchingCount).toBe(2);
    ends.get(1)!();
    await settled();
    expect(order).toEqual([1, 2, 3, 4]);
    ends.get(3)!();
    ends.get(4)!();
    expect(turns.fetchingCount).toBe(0);
  });

  it("a task killed while it waits leaves the line, with the kill's reason", async () => {
    const turns = new FetchTurns(1);
    const endFirst = await turns.take();
    const kill = new AbortController();
    const killed = turns.take(kill.signal);
    let thirdStarted = false;
    void turns.take().then(() => (thirdStarted = true));
    kill.abort(new Error("task killed"));
    await expect(killed).rejects.toThrow("task killed");
    endFirst();
    await settled();
    expect(thirdStarted).toBe(true);
    expect(turns.fetchingCount).toBe(1);
  });
});
