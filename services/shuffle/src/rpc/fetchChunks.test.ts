import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FetchBlocksResponse } from "@ballast/gen/shuffle";
import { chunkBuffer, encodeChunkInPlace, serializeFetchResponse } from "./fetchChunks.js";

/** The chunk's message encoded in place, decoded by the generated decoder. */
function roundTrip(data: Buffer, fields: Omit<FetchBlocksResponse, "data">): FetchBlocksResponse {
  const { buffer, offset } = chunkBuffer(data.length);
  data.copy(buffer, offset);
  return FetchBlocksResponse.decode(serializeFetchResponse(encodeChunkInPlace(buffer, data.length, fields)));
}

describe("FetchBlocks chunks encoded in place", () => {
  const cases: Array<[string, Buffer, Omit<FetchBlocksResponse, "data">]> = [
    ["a middle chunk of the first block", randomBytes(1000), { blockIndex: 0, last: false, size: 0, crc32: 0 }],
    ["a last chunk with its block's size and CRC", randomBytes(300), { blockIndex: 7, last: true, size: 3 * 2 ** 40 + 300, crc32: 0xffffffff }],
    ["an empty block", Buffer.alloc(0), { blockIndex: 300_000, last: true, size: 0, crc32: 0 }],
    ["a 1 MiB chunk (a two-byte tag on a three-byte length)", randomBytes(1024 * 1024), { blockIndex: 2 ** 32 - 1, last: true, size: 1024 * 1024, crc32: 0x80000000 }],
  ];
  for (const [name, data, fields] of cases) {
    it(`decodes as the generated encoder's message: ${name}`, () => {
      const decoded = roundTrip(data, fields);
      expect({ ...decoded, data: Buffer.from(decoded.data) }).toEqual({ ...fields, data });
    });
  }

  it("passes other messages to the generated encoder", () => {
    const message = { blockIndex: 2, data: Buffer.from("abc"), last: true, size: 3, crc32: 5 };
    expect(serializeFetchResponse(message)).toEqual(Buffer.from(FetchBlocksResponse.encode(message).finish()));
  });
});
