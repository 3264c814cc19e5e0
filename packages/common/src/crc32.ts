// CRC-32 (IEEE). Node's zlib.crc32 (native, from Node 20.15 and 22.2) where it exists: the
// table-driven loop below ran at a few hundred MB/s and was the executor's and the shuffle
// service's top frame moving a sort's 224 MB of blocks. The loop stays for older Node 20.
import * as zlib from "node:zlib";

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The table-driven CRC, exported so tests can check the native one against it. */
export function crc32ByTable(data: Uint8Array, previous = 0): number {
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Continues a CRC over `data`; start with `crc32(data)` and pass the result back in. */
export const crc32: (data: Uint8Array, previous?: number) => number = nativeCrc32
  ? (data, previous = 0) => nativeCrc32(data, previous)
  : crc32ByTable;
