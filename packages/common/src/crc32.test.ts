import { describe, expect, it } from "vitest";
import { crc32, crc32ByTable } from "./crc32.js";

describe("crc32", () => {
  it("is the standard CRC-32 (IEEE) check value", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32ByTable(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it("continues over pieces exactly as the table-driven loop does", () => {
    const data = new Uint8Array(100_003);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const pieces = [data.subarray(0, 1), data.subarray(1, 65_536), data.subarray(65_536)];
    let native = 0;
    let table = 0;
    for (const piece of pieces) {
      native = crc32(piece, native);
      table = crc32ByTable(piece, table);
    }
    expect(native).toBe(table);
    expect(native).toBe(crc32ByTable(data));
  });
});
