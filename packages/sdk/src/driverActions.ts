/**
 * Actions a driver program finishes itself, as Spark's take, takeOrdered and
 * reduce do: every partition computes a small partial result (its first n
 * records, its n smallest, its reduction), the job collects those, and the
 * driver merges them. Only the partials cross the network.
 */
import { ActionError } from "./errors.js";

type Partial = (records: Iterable<unknown>) => unknown[];

export function firstOf(n: number): Partial {
  return (records) => {
    const kept: unknown[] = [];
    if (n === 0) return kept;
    for (const record of records) {
      kept.push(record);
      if (kept.length >= n) break;
    }
    return kept;
  };
}

/** Orders numbers numerically, anything else by its string form; ties keep their order (stable sort). */
export function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const x = typeof a === "string" ? a : JSON.stringify(a);
  const y = typeof b === "string" ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function smallestOf(n: number, keyOf: (record: unknown) => unknown): (records: Iterable<unknown>) => unknown[] {
  return (records) =>
    [...records]
      .map((record) => ({ record, key: keyOf(record) }))
      .sort((a, b) => compareKeys(a.key, b.key))
      .slice(0, n)
      .map((entry) => entry.record);
}

const NOTHING = Symbol("nothing");

/** Reduces the records it is given, or throws when there are none. */
export function reduceAll(fn: (a: unknown, b: unknown) => unknown, records: Iterable<unknown>): unknown {
  let acc: unknown = NOTHING;
  for (const record of records) acc = acc === NOTHING ? record : fn(acc, record);
  if (acc === NOTHING) throw new ActionError("reduce() of an empty dataset has no result");
  return acc;
}

/** A partition's reduction as zero or one record (an empty partition has none). */
export function partialReduce(fn: (a: unknown, b: unknown) => unknown): Partial {
  return (records) => {
    const all = [...records];
    return all.length === 0 ? [] : [reduceAll(fn, all)];
  };
}
