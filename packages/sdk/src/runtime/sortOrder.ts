/**
 * The one total order of sort keys (sortBy, sortByKey, range bounds). Keys
 * are primitives or arrays of them, compared by rank first, so a mix of
 * types still sorts the same way in every process:
 * null < booleans < numbers and bigints (by value) < strings (by UTF-16 code
 * unit, which is byte order for ASCII keys) < arrays (element by element,
 * then shorter first). Objects, undefined and NaN have no agreed order and
 * are refused with a clear error instead of sorting somewhere arbitrary.
 */

export type Compare = (a: unknown, b: unknown) => number;

const enum Rank {
  Null = 0,
  Boolean = 1,
  Numeric = 2,
  String = 3,
  Array = 4,
}

function rankOf(key: unknown): Rank {
  switch (typeof key) {
    case "string":
      return Rank.String;
    case "number":
    case "bigint":
      return Rank.Numeric;
    case "boolean":
      return Rank.Boolean;
    default:
      return key === null ? Rank.Null : Rank.Array;
  }
}

export function compareSortKeys(a: unknown, b: unknown): number {
  // The common case (string or number keys of one type) never leaves this line.
  if (typeof a === typeof b && (typeof a === "string" || typeof a === "number")) return a < b! ? -1 : a > b! ? 1 : 0;
  const rank = rankOf(a) - rankOf(b);
  if (rank !== 0) return rank;
  switch (rankOf(a)) {
    case Rank.Null:
      return 0;
    case Rank.Boolean:
      return Number(a) - Number(b);
    case Rank.Numeric:
      // 1 and 1n are equal in value but different keys: numbers first, so the order stays total.
      if ((a as number) < (b as number)) return -1;
      if ((a as number) > (b as number)) return 1;
      return typeof a === typeof b ? 0 : typeof a === "number" ? -1 : 1;
    case Rank.String:
      return 0; // unreachable: two strings took the fast path
    case Rank.Array:
      return compareArrays(a as unknown[], b as unknown[]);
  }
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const order = compareSortKeys(a[i], b[i]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** The comparator for a sort direction. */
export function sortOrder(ascending: boolean): Compare {
  return ascending ? compareSortKeys : (a, b) => compareSortKeys(b, a);
}

/** Throws a TypeError naming the op unless `key` can be sorted; returns it. */
export function checkSortKey(key: unknown, op: string): unknown {
  const problem = sortKeyProblem(key);
  if (problem) {
    throw new TypeError(
      `${op}: cannot sort by ${problem}; sort keys must be strings, numbers, bigints, booleans, null or arrays of them`,
    );
  }
  return key;
}

function sortKeyProblem(key: unknown): string | undefined {
  switch (typeof key) {
    case "string":
    case "bigint":
    case "boolean":
      return undefined;
    case "number":
      return Number.isNaN(key) ? "NaN" : undefined;
    case "undefined":
      return "undefined";
    case "object":
      if (key === null) return undefined;
      if (!Array.isArray(key)) return `an object (${describeObject(key)})`;
      for (const element of key) {
        const problem = sortKeyProblem(element);
        if (problem) return `an array holding ${problem}`;
      }
      return undefined;
    default:
      return `a ${typeof key}`;
  }
}

function describeObject(value: object): string {
  const name = value.constructor?.name;
  return name && name !== "Object" ? name : JSON.stringify(value)?.slice(0, 40) ?? "object";
}
