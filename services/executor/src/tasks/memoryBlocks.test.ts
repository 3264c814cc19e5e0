import { describe, expect, it } from "vitest";
import { MemoryBlocks } from "./memoryBlocks.js";

const ref = (partition: number, cacheKey = "ds1", applicationId = "app-1") => ({ applicationId, cacheKey, partition, bytes: 0 });
const block = (bytes: number) => new Uint8Array(bytes);
const partitionsOf = (refs: Array<{ partition: number }>) => refs.map((r) => r.partition);

describe("memory copies of cached partitions", () => {
  it("evicts the least recently used blocks when a new one needs room, and names them", () => {
    const blocks = new MemoryBlocks(300);
    for (const p of [0, 1, 2]) expect(blocks.put(ref(p), block(100))).toEqual({ kept: true, evicted: [] });
    blocks.get("app-1", "ds1", 0); // 0 is now the most recently used
    const { kept, evicted } = blocks.put(ref(3), block(150));
    expect(kept).toBe(true);
    expect(partitionsOf(evicted)).toEqual([1, 2]);
    expect(evicted[0]).toMatchObject({ applicationId: "app-1", cacheKey: "ds1", bytes: 100 });
    expect(blocks.get("app-1", "ds1", 1)).toBeUndefined();
    expect(blocks.get("app-1", "ds1", 0)).toBeDefined();
    expect({ size: blocks.size, bytes: blocks.bytes }).toEqual({ size: 2, bytes: 250 });
  });

  it("does not keep a block larger than the whole budget, and an older copy it replaces is reported gone", () => {
    const blocks = new MemoryBlocks(100);
    blocks.put(ref(0), block(60));
    blocks.put(ref(1), block(40));
    expect(blocks.put(ref(0), block(101))).toEqual({ kept: false, evicted: [{ ...ref(0), bytes: 60 }] });
    expect(partitionsOf(blocks.held())).toEqual([1]);
    expect(blocks.bytes).toBe(40);
    expect(new MemoryBlocks(0).put(ref(0), block(1)).kept).toBe(false);
  });

  it("replacing a block counts its bytes once", () => {
    const blocks = new MemoryBlocks(100);
    blocks.put(ref(0), block(80));
    expect(blocks.put(ref(0), block(90))).toEqual({ kept: true, evicted: [] });
    expect(blocks.bytes).toBe(90);
  });

  it("unpersist frees exactly the dataset's blocks, of that application", () => {
    const blocks = new MemoryBlocks(1000);
    blocks.put(ref(0), block(10));
    blocks.put(ref(1), block(10));
    blocks.put(ref(0, "ds2"), block(10));
    blocks.put(ref(0, "ds1", "app-2"), block(10));
    expect(blocks.freeDataset("app-1", "ds1")).toBe(2);
    expect(blocks.held().map((r) => `${r.applicationId}/${r.cacheKey}/${r.partition}`)).toEqual(["app-1/ds2/0", "app-2/ds1/0"]);
    expect(blocks.bytes).toBe(20);
  });
});
