/**
 * FetchBlocksResponse messages encoded around a chunk's bytes where the file read put them
 * (@ballast/common/wire/preEncoded says why): a chunk is read into a buffer with room for the
 * fields around it, and the message is that buffer. block_index and the data field's tag and
 * length go before the bytes, last, size and crc32 after them.
 */
import { FetchBlocksResponse } from "@ballast/gen/shuffle";
import { passingPreEncoded, PreEncoded, pushBytesHeader, pushVarintField, varintTag } from "@ballast/common/wire/preEncoded";

/** Before the bytes: block_index (tag, uint32 varint) and data (tag, length varint). */
export const HEAD_ROOM = 2 * (1 + 5);
/** After them: last (tag, bool), size (tag, uint64 varint), crc32 (tag, uint32 varint). */
export const TAIL_ROOM = 1 + 1 + (1 + 10) + (1 + 5);

/** A buffer for `length` bytes of a chunk, read at `offset`, with room for its message's fields. */
export function chunkBuffer(length: number): { buffer: Buffer; offset: number } {
  return { buffer: Buffer.allocUnsafe(HEAD_ROOM + length + TAIL_ROOM), offset: HEAD_ROOM };
}

/** The message for the chunk at buffer[HEAD_ROOM, HEAD_ROOM + length), encoded in the buffer's room around it. */
export function encodeChunkInPlace(buffer: Buffer, length: number, fields: Omit<FetchBlocksResponse, "data">): PreEncoded {
  const head: number[] = [];
  pushVarintField(head, 1, fields.blockIndex);
  pushBytesHeader(head, 2, length);
  const start = HEAD_ROOM - head.length;
  buffer.set(head, start);
  const tail: number[] = [];
  if (fields.last) tail.push(varintTag(3), 1);
  pushVarintField(tail, 4, fields.size);
  pushVarintField(tail, 5, fields.crc32 >>> 0);
  const end = HEAD_ROOM + length;
  buffer.set(tail, end);
  return new PreEncoded(buffer.subarray(start, end + tail.length));
}

/** grpc-js's serializer for FetchBlocks responses. */
export const serializeFetchResponse = passingPreEncoded((value: FetchBlocksResponse) => Buffer.from(FetchBlocksResponse.encode(value).finish()));
