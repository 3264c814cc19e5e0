/**
 * The shuffle blocks of a sort. Pairs of a string key and a string value (sortBy over lines) travel
 * as raw UTF-8 entries instead of msgpack arrays: the map side writes them with one native copy
 * each, and the reduce side sorts them where they lie, by a key prefix read from the bytes, and
 * makes one string per record in output order (no array and key string per record to decode,
 * allocate and collect). Any other pair travels msgpack-packed. A block is a sequence of segments:
 *   [u8 kind][u32 payload bytes][payload]
 * kind STRINGS: entries [u32 key bytes | KEY_IS_PREFIX][u32 value bytes][key bytes, unless a prefix][value bytes]
 * kind PACKED: msgpack arrays of [key, value] pairs (codec.ts).
 * A key that is a prefix of its value (sortBy(line => line.slice(0, 10))) is not written twice.
 */
import { asBuffer, concatChunks, forEachRecordIn, packRecords } from "./codec.js";
import { packCharCode, sortedOrderByPrefix } from "./prefixSort.js";

const STRINGS = 0;
const PACKED = 1;
const SEGMENT_HEADER = 5;
const ENTRY_HEADER = 8;
const KEY_IS_PREFIX = 0x8000_0000;
const SEGMENT_BYTES = 64 * 1024;
const PAIRS_PER_PACKED_SEGMENT = 1024;

type Pair = readonly [unknown, unknown];

/** One reduce partition's block, written segment by segment in record order. */
export class SortBlockBuilder {
  private readonly segments: Uint8Array[] = [];
  private buffer = Buffer.allocUnsafe(0);
  private position = 0;
  private segmentStart = -1;
  private packed: Pair[] = [];

  add(pair: Pair): void {
    const [key, value] = pair;
    if (typeof key === "string" && typeof value === "string") this.addStrings(key, value);
    else {
      this.closeStrings();
      this.packed.push(pair);
      if (this.packed.length >= PAIRS_PER_PACKED_SEGMENT) this.closePacked();
    }
  }

  finish(): Uint8Array {
    this.closeStrings();
    this.closePacked();
    return concatChunks(this.segments);
  }

  private addStrings(key: string, value: string): void {
    this.closePacked();
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const keyIsPrefix = isPrefixOf(key, value);
    const room = ENTRY_HEADER + 3 * ((keyIsPrefix ? 0 : key.length) + value.length);
    if (this.segmentStart < 0 || this.position + room > this.buffer.length) this.openStrings(room);
    const header = this.position;
    let at = header + ENTRY_HEADER;
    let keyBytes: number;
    if (keyIsPrefix) {
      at += this.buffer.write(value, at, "utf8");
      keyBytes = Buffer.byteLength(key, "utf8");
      this.buffer.writeUInt32LE((keyBytes | KEY_IS_PREFIX) >>> 0, header);
    } else {
      keyBytes = this.buffer.write(key, at, "utf8");
      at += keyBytes;
      at += this.buffer.write(value, at, "utf8");
      this.buffer.writeUInt32LE(keyBytes, header);
    }
    this.buffer.writeUInt32LE(at - header - ENTRY_HEADER - (keyIsPrefix ? 0 : keyBytes), header + 4);
    this.position = at;
  }

  private openStrings(room: number): void {
    this.closeStrings();
    if (this.buffer.length - this.position < SEGMENT_HEADER + room) {
      this.buffer = Buffer.allocUnsafe(Math.max(SEGMENT_BYTES, SEGMENT_HEADER + room));
      this.position = 0;
    }
    this.segmentStart = this.position;
    this.buffer[this.position] = STRINGS;
    this.position += SEGMENT_HEADER;
  }

  private closeStrings(): void {
    if (this.segmentStart < 0) return;
    this.buffer.writeUInt32LE(this.position - this.segmentStart - SEGMENT_HEADER, this.segmentStart + 1);
    this.segments.push(this.buffer.subarray(this.segmentStart, this.position));
    this.segmentStart = -1;
  }

  private closePacked(): void {
    if (this.packed.length === 0) return;
    const payload = packRecords(this.packed);
    this.packed = [];
    const header = Buffer.allocUnsafe(SEGMENT_HEADER);
    header[0] = PACKED;
    header.writeUInt32LE(payload.length, 1);
    this.segments.push(header, payload);
  }
}

/** Whether `key` starts `value` and its UTF-8 bytes start the value's (a lone high surrogate at its end would encode differently). */
function isPrefixOf(key: string, value: string): boolean {
  if (key.length === 0 || !value.startsWith(key)) return false;
  const last = key.charCodeAt(key.length - 1);
  return last < 0xd800 || last > 0xdbff;
}

/** The segments of a block, in order. */
export function forEachSegment(block: Uint8Array, visit: (kind: "strings" | "packed", payload: Buffer) => void): void {
  const bytes = asBuffer(block);
  for (let at = 0; at < bytes.length; ) {
    if (at + SEGMENT_HEADER > bytes.length) throw new Error("corrupt sort block: truncated segment header");
    const kind = bytes[at];
    const length = bytes.readUInt32LE(at + 1);
    const end = at + SEGMENT_HEADER + length;
    if (end > bytes.length || (kind !== STRINGS && kind !== PACKED)) throw new Error("corrupt sort block: bad segment");
    visit(kind === STRINGS ? "strings" : "packed", bytes.subarray(at + SEGMENT_HEADER, end));
    at = end;
  }
}

/** The pairs of a PACKED segment. */
export function forEachPackedPair(payload: Buffer, visit: (pair: Pair) => void): void {
  forEachRecordIn(payload, (record) => visit(record as Pair));
}

/**
 * STRINGS entries held as they arrived (segment and offset per entry), sorted in place by key and
 * read out as strings in sorted order.
 */
export class StringEntries {
  private readonly segments: Buffer[] = [];
  private readonly segmentOf: number[] = [];
  private readonly offsetOf: number[] = [];
  /** Bytes held: the segments and the per-entry index. */
  bytes = 0;

  get count(): number {
    return this.offsetOf.length;
  }

  add(payload: Buffer): void {
    const segment = this.segments.length;
    this.segments.push(payload);
    this.bytes += payload.length;
    for (let at = 0; at < payload.length; ) {
      if (at + ENTRY_HEADER > payload.length) throw new Error("corrupt sort block: truncated entry");
      this.segmentOf.push(segment);
      this.offsetOf.push(at);
      this.bytes += 16;
      const keyWord = payload.readUInt32LE(at);
      const keyBytes = keyWord & KEY_IS_PREFIX ? 0 : keyWord;
      at += ENTRY_HEADER + keyBytes + payload.readUInt32LE(at + 4);
    }
  }

  key(i: number): string {
    const payload = this.segments[this.segmentOf[i]!]!;
    const at = this.offsetOf[i]! + ENTRY_HEADER;
    return payload.toString("utf8", at, at + (payload.readUInt32LE(this.offsetOf[i]!) & ~KEY_IS_PREFIX));
  }

  value(i: number): string {
    return this.valueBytes(i, (payload, start, end) => payload.toString("utf8", start, end));
  }

  /** Hands `visit` the bytes of entry i's value. */
  valueBytes<T>(i: number, visit: (payload: Buffer, start: number, end: number) => T): T {
    const payload = this.segments[this.segmentOf[i]!]!;
    const header = this.offsetOf[i]!;
    const keyWord = payload.readUInt32LE(header);
    const start = header + ENTRY_HEADER + (keyWord & KEY_IS_PREFIX ? 0 : keyWord);
    return visit(payload, start, start + payload.readUInt32LE(header + 4));
  }

  /** Every entry as a [key, value] pair, in arrival order. */
  forEachPair(visit: (pair: Pair) => void): void {
    for (let i = 0; i < this.count; i++) visit([this.key(i), this.value(i)]);
  }

  /** The entries' stable order by key (as `compare` orders key strings), or undefined when the keys' bytes cannot be packed. */
  sortedOrder(compare: (a: string, b: string) => number, descending: boolean): Uint32Array | undefined {
    return sortedOrderByPrefix(this.count, (i, chars) => this.keyPrefix(i, chars), (i, j) => compare(this.key(i), this.key(j)), descending);
  }

  /** The key's first `chars` bytes packed as prefixSort packs code units: for bytes 0..126 (ASCII) they are the same. */
  private keyPrefix(i: number, chars: number): number {
    const payload = this.segments[this.segmentOf[i]!]!;
    const header = this.offsetOf[i]!;
    const keyBytes = payload.readUInt32LE(header) & ~KEY_IS_PREFIX;
    const start = header + ENTRY_HEADER;
    let prefix = 0;
    for (let k = 0; k < chars && prefix >= 0; k++) prefix = packCharCode(prefix, k < keyBytes ? payload[start + k]! : -1);
    return prefix;
  }
}
