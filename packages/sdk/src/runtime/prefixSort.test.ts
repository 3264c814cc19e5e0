import { describe, expect, it } from "vitest";
import { seededRandom } from "@ballast/common/seededRandom";
import { sortByStringPrefix } from "./prefixSort.js";
import { sortOrder } from "./sortOrder.js";

type Entry = readonly [string, number];
const keyOf = (entry: Entry): unknown => entry[0];
const comparatorFor = (ascending: boolean) => {
  const compare = sortOrder(ascending);
  return (a: Entry, b: Entry) => compare(a[0], b[0]);
};

/** Keys from a small alphabet and mixed lengths: many ties, shared prefixes and keys that are prefixes of others. */
function entries(count: number, seed: number, alphabet = "!ab~"): Entry[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    let key = "";
    const length = Math.floor(random() * 12);
    for (let k = 0; k < length; k++) key += alphabet[Math.floor(random() * alphabet.length)];
    return [key, i] as const;
  });
}

describe("sortByStringPrefix", () => {
  for (const ascending of [true, false]) {
    it(`orders ${ascending ? "ascending" : "descending"} exactly as the stable Array#sort does, ties in input order`, () => {
      const input = entries(20_000, 7);
      const compare = comparatorFor(ascending);
      const sorted = sortByStringPrefix(input, keyOf, compare, !ascending);
      expect(sorted).toBeDefined();
      expect(sorted).toEqual(input.slice().sort(compare));
    });
  }

  it("sorts TeraSort-like keys (printable ASCII, 10 characters) as Array#sort does", () => {
    const alphabet = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join("");
    const input = entries(5_000, 3, alphabet);
    const compare = comparatorFor(true);
    expect(sortByStringPrefix(input, keyOf, compare, false)).toEqual(input.slice().sort(compare));
  });

  it("declines what it cannot pack, leaving the input as it was: non-string keys, codes above 126, few records", () => {
    const compare = comparatorFor(true);
    const input = entries(2_000, 5);
    const withWide = [...input, ["caf\u00e9", -1] as const];
    const withNumber = [...input, [3 as unknown as string, -2] as const];
    expect(sortByStringPrefix(withWide, keyOf, compare, false)).toBeUndefined();
    expect(sortByStringPrefix(withNumber, keyOf, compare, false)).toBeUndefined();
    expect(sortByStringPrefix(input.slice(0, 100), keyOf, compare, false)).toBeUndefined();
    expect(withWide.at(-1)).toEqual(["caf\u00e9", -1]);
  });
});
