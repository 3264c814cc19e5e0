import { describe, expect, it } from "vitest";
import { MAIN_THREAD_RESERVE, memorySizing } from "./memorySizing.js";

const MIB = 1024 * 1024;

describe("memorySizing", () => {
  it("gives the main thread its reserve and each slot an equal share, three quarters of it its worker's heap", () => {
    expect(memorySizing(768 * MIB, 1)).toEqual({ workerHeapBytes: 384 * MIB, taskMemoryCap: 192 * MIB });
    expect(memorySizing(768 * MIB, 2)).toEqual({ workerHeapBytes: 192 * MIB, taskMemoryCap: 96 * MIB });
    const { workerHeapBytes } = memorySizing(4096 * MIB, 4);
    expect(MAIN_THREAD_RESERVE + (4 * workerHeapBytes * 4) / 3).toBe(4096 * MIB);
  });

  it("takes the memory cache's budget out of the total before the slots share it", () => {
    expect(memorySizing(1024 * MIB, 1, 256 * MIB)).toEqual({ workerHeapBytes: 384 * MIB, taskMemoryCap: 192 * MIB });
  });

  it("never gives a worker less than 64 MiB", () => {
    expect(memorySizing(320 * MIB, 8)).toEqual({ workerHeapBytes: 64 * MIB, taskMemoryCap: 32 * MIB });
  });
});
