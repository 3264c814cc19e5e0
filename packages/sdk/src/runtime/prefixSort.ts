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
  const order = sortedOrderByPrefix(
    records.length,
    (i, chars) => prefixOf(keyOf(records[i]!), chars),
    (i, j) => compare(records[i]!, records[j]!),
    descending,
  );
  if (!order) return undefined;
  const sorted = new Array<T>(order.length);
  for (let j = 0; j < order.length; j++) sorted[j] = records[order[j]!]!;
  return sorted;
}

/**
 * The stable sorted order (indices 0..n-1) of n items known by index: `prefixAt(i, chars)` is the
 * first `chars` key characters of item i packed 7 bits each (code + 1, 0 past the key's end; -1 if
 * it cannot be packed), `compareAt` orders two items by their full keys. Undefined when an item
 * cannot be packed or n is too small or too large for the packing to help.
 */
export function sortedOrderByPrefix(
  n: number,
  prefixAt: (i: number, chars: number) => number,
  compareAt: (i: number, j: number) => number,
  descending: boolean,
): Uint32Array | undefined {
  if (n < MIN_RECORDS) return undefined;
  const indexBits = Math.ceil(Math.log2(n));
  const chars = Math.floor((EXACT_BITS - indexBits) / BITS_PER_CHAR);
  if (chars < 2) return undefined;
  const indexScale = 2 ** indexBits;
  const maxPrefix = 2 ** (BITS_PER_CHAR * chars) - 1;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const prefix = prefixAt(i, chars);
    if (prefix < 0) return undefined;
    packed[i] = (descending ? maxPrefix - prefix : prefix) * indexScale + i;
  }
  packed.sort();
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[j] = packed[j]! % indexScale;
  sortTiedRuns(order, packed, indexScale, compareAt);
  return order;
}

/** Packs one more key character (its code, or -1 past the key's end) into a prefix; -1 when the code does not fit. */
export function packCharCode(prefix: number, code: number): number {
  if (code > MAX_CODE) return -1;
  return prefix * 2 ** BITS_PER_CHAR + code + 1;
}

/** The first `chars` code units of a string key as an integer (shorter keys first), or -1 if it cannot be packed. */
function prefixOf(key: unknown, chars: number): number {
  if (typeof key !== "string") return -1;
  let prefix = 0;
  for (let i = 0; i < chars && prefix >= 0; i++) prefix = packCharCode(prefix, i < key.length ? key.charCodeAt(i) : -1);
  return prefix;
}

/** Orders, by the full key, each run of items whose packed prefixes are equal (already in input order, so the sort stays stable). */
function sortTiedRuns(order: Uint32Array, packed: Float64Array, indexScale: number, compareAt: (i: number, j: number) => number): void {
  const prefixAt = (j: number): number => Math.floor(packed[j]! / indexScale);
  let start = 0;
  while (start < order.length) {
    const prefix = prefixAt(start);
    let end = start + 1;
    while (end < order.length && prefixAt(end) === prefix) end++;
    if (end - start > 1) order.set(Array.from(order.subarray(start, end)).sort(compareAt), start);
    start = end;
  }
}
