/**
 * FetchBlocksResponse messages encoded around the chunk's bytes where the file read put them.
 * The generated encoder copies a chunk into its writer, again into one array and once more into a
 * Buffer, and grpc-js copies the message into its frame: four 1 MiB allocations per chunk, whose
 * external memory drove most of the service's garbage collections while it served a sort. Here a
 * chunk is read into a buffer with room for the fields around it; the message is that buffer,
 * and only grpc-js copies it. Field order does not matter to protobuf decoders, so the fields
 * that precede the bytes (block_index, the data tag and length) go before them and the rest after.
 */
import { FetchBlocksResponse } from "@ballast/gen/shuffle";

/** Before the bytes: block_index (tag, uint32 varint) and data (tag, length varint). */
export const HEAD_ROOM = 2 * (1 + 5);
/** After them: last (tag, bool), size (tag, uint64 varint), crc32 (tag, uint32 varint). */
export const TAIL_ROOM = 1 + 1 + (1 + 10) + (1 + 5);

const BLOCK_INDEX_TAG = (1 << 3) | 0;
const DATA_TAG = (2 << 3) | 2;
const LAST_TAG = (3 << 3) | 0;
const SIZE_TAG = (4 << 3) | 0;
const CRC32_TAG = (5 << 3) | 0;

/** A message already encoded (the serializer passes it through as it is). */
export class EncodedChunk {
  constructor(readonly bytes: Buffer) {}
}

/** A buffer for `length` bytes of a chunk, read at `offset`, with room for its message's fields. */
export function chunkBuffer(length: number): { buffer: Buffer; offset: number } {
  return { buffer: Buffer.allocUnsafe(HEAD_ROOM + length + TAIL_ROOM), offset: HEAD_ROOM };
}

/** The message for the chunk at buffer[HEAD_ROOM, HEAD_ROOM + length), encoded in the buffer's room around it. */
export function encodeChunkInPlace(buffer: Buffer, length: number, fields: Omit<FetchBlocksResponse, "data">): EncodedChunk {
  const head: number[] = [];
  if (fields.blockIndex !== 0) head.push(BLOCK_INDEX_TAG, ...varint(fields.blockIndex));
  head.push(DATA_TAG, ...varint(length));
  const start = HEAD_ROOM - head.length;
  for (let i = 0; i < head.length; i++) buffer[start + i] = head[i]!;
  const tail: number[] = [];
  if (fields.last) tail.push(LAST_TAG, 1);
  if (fields.size !== 0) tail.push(SIZE_TAG, ...varint(fields.size));
  if (fields.crc32 !== 0) tail.push(CRC32_TAG, ...varint(fields.crc32 >>> 0));
  const end = HEAD_ROOM + length;
  for (let i = 0; i < tail.length; i++) buffer[end + i] = tail[i]!;
  return new EncodedChunk(buffer.subarray(start, end + tail.length));
}

/** grpc-js's serializer for FetchBlocks responses: encoded chunks as they are, other messages as generated. */
export function serializeFetchResponse(value: FetchBlocksResponse | EncodedChunk): Buffer {
  return value instanceof EncodedChunk ? value.bytes : Buffer.from(FetchBlocksResponse.encode(value).finish());
}

/** Base-128 varint of a non-negative safe integer. */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}
