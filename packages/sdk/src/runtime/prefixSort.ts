/**
 * A stable sort of many records by string keys without a comparator call per
 * comparison (the cost of sorting a TeraSort partition with Array#sort). Each
 * record's key prefix (7 bits per character) and its index are packed into one
 * exact integer of a Float64Array, which sorts natively; runs of records whose
 * prefixes tie are then put in order by the full comparator. The index in the
 * low bits keeps equal keys in input order, as Array#sort would.
 */

/** Below this many records the ordinary sort is as fast. */
const MIN_RECORDS = 1024;
const BITS_PER_CHAR = 7;
/** Character codes encode as code + 1 (0 stands for "the key ended"), so 126 is the highest that fits in 7 bits. */
const MAX_CODE = 126;
const EXACT_BITS = 53;

/**
 * `records` sorted by `keyOf` (ascending or descending by UTF-16 code unit, as
 * `compare` orders them), or undefined when a key is not a string of codes
 * 0..126 or there are too few or too many records for the packing to help: the
 * caller then sorts with `compare`. `compare` must order records by their keys.
 */
export function sortByStringPrefix<T>(records: readonly T[], keyOf: (record: T) => unknown, compare: (a: T, b: T) => number, descending: boolean): T[] | undefined {
  const n = records.length;
  if (n < MIN_RECORDS) return undefined;
  const indexBits = Math.ceil(Math.log2(n));
  const chars = Math.floor((EXACT_BITS - indexBits) / BITS_PER_CHAR);
  if (chars < 2) return undefined;
  const indexScale = 2 ** indexBits;
  const maxPrefix = 2 ** (BITS_PER_CHAR * chars) - 1;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const prefix = prefixOf(keyOf(records[i]!), chars);
    if (prefix < 0) return undefined;
    packed[i] = (descending ? maxPrefix - prefix : prefix) * indexScale + i;
  }
  packed.sort();
  const sorted = new Array<T>(n);
  for (let j = 0; j < n; j++) sorted[j] = records[packed[j]! % indexScale]!;
  sortTiedRuns(sorted, packed, indexScale, compare);
  return sorted;
}

/** The first `chars` code units of a string key as an integer (shorter keys first), or -1 if it cannot be packed. */
function prefixOf(key: unknown, chars: number): number {
  if (typeof key !== "string") return -1;
  let prefix = 0;
  for (let i = 0; i < chars; i++) {
    let digit = 0;
    if (i < key.length) {
      const code = key.charCodeAt(i);
      if (code > MAX_CODE) return -1;
      digit = code + 1;
    }
    prefix = prefix * 2 ** BITS_PER_CHAR + digit;
  }
  return prefix;
}

/** Orders, by the full key, each run of records whose packed prefixes are equal (already in input order, so the sort stays stable). */
function sortTiedRuns<T>(sorted: T[], packed: Float64Array, indexScale: number, compare: (a: T, b: T) => number): void {
  const prefixAt = (j: number): number => Math.floor(packed[j]! / indexScale);
  let start = 0;
  while (start < sorted.length) {
    const prefix = prefixAt(start);
    let end = start + 1;
    while (end < sorted.length && prefixAt(end) === prefix) end++;
    if (end - start > 1) {
      const run = sorted.slice(start, end).sort(compare);
      for (let k = 0; k < run.length; k++) sorted[start + k] = run[k]!;
    }
    start = end;
  }
}
