/**
 * TeraSort-style records and their validator, shared by the e2e sort test
 * and `npm run bench -- sort`: 100-byte lines (a 10-byte printable key, a
 * payload naming the record, "\n"), and a check that part files read in
 * order are globally sorted by key and hold exactly the input's records.
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "@ballast/common/seededRandom";

export const RECORD_BYTES = 100;
const KEY_BYTES = 10;
/** Printable ASCII without space: byte order and JavaScript's string order agree. */
const KEY_ALPHABET = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join("");

export interface RecordSetSummary {
  records: number;
  /** Order-independent digest of the lines (sum of per-line FNV-1a hashes mod 2^32). */
  checksum: number;
}

function lineHash(line: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < line.length; i++) hash = Math.imul(hash ^ line.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Writes `count` records to `path` in 4 MB chunks; returns what the validator must find. */
export function writeTeraSortInput(path: string, count: number, seed = 1): RecordSetSummary {
  const random = seededRandom(seed);
  const fd = openSync(path, "w");
  let checksum = 0;
  try {
    let chunk: string[] = [];
    for (let i = 0; i < count; i++) {
      let key = "";
      for (let k = 0; k < KEY_BYTES; k++) key += KEY_ALPHABET[Math.floor(random() * KEY_ALPHABET.length)];
      const line = `${key} ${String(i).padStart(12, "0")} ${"x".repeat(RECORD_BYTES - KEY_BYTES - 16)}`;
      checksum = (checksum + lineHash(line)) >>> 0;
      chunk.push(line);
      if (chunk.length === 40_000 || i === count - 1) {
        writeSync(fd, chunk.join("\n") + "\n");
        chunk = [];
      }
    }
  } finally {
    closeSync(fd);
  }
  return { records: count, checksum };
}

export interface SortValidation extends RecordSetSummary {
  /** Undefined when every key is >= the one before it, across part files in name order. */
  firstDisorder?: string;
}

/** Reads lines of part files in order (or records collected in order) and checks the global order. */
export function validateSortedLines(lines: Iterable<string>): SortValidation {
  let previous = "";
  let records = 0;
  let checksum = 0;
  let firstDisorder: string | undefined;
  for (const line of lines) {
    const key = line.slice(0, KEY_BYTES);
    if (records > 0 && key < previous && firstDisorder === undefined) firstDisorder = `record ${records}: ${key} after ${previous}`;
    previous = key;
    records++;
    checksum = (checksum + lineHash(line)) >>> 0;
  }
  return { records, checksum, firstDisorder };
}

export function* partFileLines(dir: string): Generator<string> {
  for (const part of readdirSync(dir).filter((name) => name.startsWith("part-")).sort()) {
    const text = readFileSync(join(dir, part), "utf8");
    for (const line of text.split("\n")) if (line.length > 0) yield line;
  }
}
