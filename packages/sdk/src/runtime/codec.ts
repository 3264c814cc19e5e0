/**
 * Record encoding across process boundaries: msgpack (msgpackr) without
 * record extensions, so plain arrays and objects round-trip in any process.
 * A block may hold several concatenated packed arrays; readers accept that.
 */
import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false });

/** Packs one array of records. The result views a larger buffer that msgpackr never rewrites. */
export function packRecords(records: unknown[]): Uint8Array {
  return packr.pack(records);
}

/** One standalone buffer (its own ArrayBuffer, exact size) from packed chunks. */
export function concatChunks(chunks: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** Calls `visit` for every record of every packed array in a block. */
export function forEachRecordIn(block: Uint8Array, visit: (record: unknown) => void): void {
  if (block.length === 0) return;
  packr.unpackMultiple(asBuffer(block), (packed: unknown) => {
    if (!Array.isArray(packed)) throw new Error("corrupt block: expected packed arrays of records");
    for (let i = 0; i < packed.length; i++) visit(packed[i]);
  });
}

/** Concatenates, in order, the records of every collected partition. */
export function decodeCollected(partitionRecords: Uint8Array[]): unknown[] {
  const records: unknown[] = [];
  for (const block of partitionRecords) forEachRecordIn(block, (record) => records.push(record));
  return records;
}

/** A stable digest input for parallelized data (never sent anywhere). */
export function packForFingerprint(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** A Buffer view of the bytes (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
