import { describe, expect, it } from "vitest";
import { MAIN_THREAD_RESERVE, memorySizing } from "./memorySizing.js";

const MIB = 1024 * 1024;

describe("memorySizing", () => {
  it("gives the main thread its reserve and splits the rest among the slots' workers", () => {
    expect(memorySizing(768 * MIB, 1)).toEqual({ workerHeapBytes: 512 * MIB, taskMemoryCap: 256 * MIB });
    expect(memorySizing(768 * MIB, 2)).toEqual({ workerHeapBytes: 256 * MIB, taskMemoryCap: 128 * MIB });
    const { workerHeapBytes } = memorySizing(4096 * MIB, 4);
    expect(MAIN_THREAD_RESERVE + 4 * workerHeapBytes).toBe(4096 * MIB);
  });

  it("never gives a worker less than 64 MiB", () => {
    expect(memorySizing(320 * MIB, 8)).toEqual({ workerHeapBytes: 64 * MIB, taskMemoryCap: 32 * MIB });
  });
});
