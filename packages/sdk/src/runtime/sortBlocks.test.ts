import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { seededRandom } from "@ballast/common/seededRandom";
import type { WideBehavior } from "../graph.js";
import type { SpillSpace } from "../types.js";
import { packRecords } from "./codec.js";
import { rangeBounds } from "./rangePartitioner.js";
import { sortByBehavior, sortByKeyBehavior } from "./sort.js";
import { forEachSegment } from "./sortBlocks.js";
import { compareSortKeys, sortOrder } from "./sortOrder.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function spillSpace(memoryLimit: number): SpillSpace & { spills: number[] } {
  const dir = mkdtempSync(join(tmpdir(), "ballast-sortblocks-"));
  dirs.push(dir);
  const spills: number[] = [];
  return { memoryLimit, dir, spills, onSpill: (bytes) => spills.push(bytes) };
}

/** Runs a sort's map side over `inputs` (one map task each) and its reduce side over every partition, in partition order. */
function shuffleAndSort(behavior: WideBehavior, inputs: unknown[][], partitions: number, spill?: SpillSpace): unknown[] {
  const samples = inputs.map((records) => packRecords([{ count: records.length, keys: records.map((r) => behavior.sortKeyOf!(r)) }]));
  const mapOutputs = inputs.map((records) => {
    const writer = behavior.mapSideWriter(0, partitions, samples);
    records.forEach((record) => writer.add(record));
    return writer.finish().partitions;
  });
  const out: unknown[] = [];
  for (let p = 0; p < partitions; p++) behavior.reduce(() => mapOutputs.map((blocks) => blocks[p]!), (record) => out.push(record), spill);
  return out;
}

/** Lines with a key of `keyChars` drawn from `alphabet`, then a payload naming the record. */
function lines(count: number, seed: number, alphabet: string, keyChars = 4): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    let key = "";
    for (let k = 0; k < keyChars; k++) key += alphabet[Math.floor(random() * alphabet.length)];
    return `${key}|record ${seed}-${i}`;
  });
}

const byKey = (keyOf: (record: string) => string, ascending = true) => {
  const compare = sortOrder(ascending);
  return (a: string, b: string) => compare(keyOf(a), keyOf(b));
};

describe("sort blocks", () => {
  const prefixKey = (line: string) => line.slice(0, 4);

  for (const ascending of [true, false]) {
    it(`sorts string records by string keys ${ascending ? "ascending" : "descending"}, stably, as Array#sort does`, () => {
      // Few distinct keys: long runs of ties, which must keep input order (map task, then position).
      const inputs = [lines(3000, 1, "ab~"), lines(2500, 2, "ab~")];
      const sorted = shuffleAndSort(sortByBehavior((line) => prefixKey(line as string), ascending), inputs, 3);
      expect(sorted).toEqual(inputs.flat().sort(byKey(prefixKey, ascending)));
    });
  }

  it("sends a key that starts its value once, and one that does not in full", () => {
    const behavior = sortByBehavior((line) => (line as string).slice(0, 4), true);
    const samples = [packRecords([{ count: 1, keys: ["abcd"] }])];
    const prefixed = behavior.mapSideWriter(0, 1, samples);
    prefixed.add("abcd-payload");
    const separate = sortByBehavior((line) => `k${line as string}`, true).mapSideWriter(0, 1, samples);
    separate.add("abcd-payload");
    const [prefixBlock] = prefixed.finish().partitions;
    const [separateBlock] = separate.finish().partitions;
    // The separate key ("kabcd-payload") costs its 13 bytes; the prefix key none.
    expect(separateBlock!.length - prefixBlock!.length).toBe(13);
  });

  it("keeps non-ASCII keys and values and orders them as strings do (by UTF-16 code unit, not UTF-8 byte)", () => {
    // U+1F600 is below U+E000 in UTF-16 order but above it in UTF-8 byte order.
    const odd = ["caf\u00e9", "\u{1f600}x", "\ue000", "zz", "\u00e9t\u00e9"];
    const inputs = [lines(1500, 3, "ab").map((line, i) => (i % 7 === 0 ? odd[i % odd.length]! + line : line))];
    const wholeKey = (line: string) => line.slice(0, 2);
    expect(shuffleAndSort(sortByBehavior((line) => wholeKey(line as string), true), inputs, 2)).toEqual(inputs.flat().sort(byKey(wholeKey)));
  });

  it("mixes string pairs with any other records in one block, in one total order, ties in input order", () => {
    const records: unknown[] = [];
    const random = seededRandom(9);
    for (let i = 0; i < 4000; i++) {
      const kind = Math.floor(random() * 4);
      const key = ["a", "b", 2, null][kind]!;
      records.push(kind < 2 ? [key, `v${i}`] : [key, i]);
    }
    const behavior = sortByKeyBehavior(true);
    const compare = (a: unknown, b: unknown) => compareSortKeys((a as unknown[])[0], (b as unknown[])[0]);
    expect(shuffleAndSort(behavior, [records.slice(0, 2000), records.slice(2000)], 2)).toEqual(records.slice().sort(compare));
    const [block] = behavior.mapSideWriter(0, 1, []).finish().partitions;
    expect(block!.length).toBe(0);
    const kinds: string[] = [];
    const writer = behavior.mapSideWriter(0, 1, []);
    for (const record of [["a", "x"], ["b", 1], ["c", "y"]]) writer.add(record);
    forEachSegment(writer.finish().partitions[0]!, (kind) => kinds.push(kind));
    expect(kinds).toEqual(["strings", "packed", "strings"]);
  });

  it("past its memory budget decodes what it holds into the spilling sorter: the same order, runs removed", () => {
    const inputs = [lines(3000, 4, "abc~"), lines(3000, 5, "abc~")];
    const space = spillSpace(64 * 1024);
    const sorted = shuffleAndSort(sortByBehavior((line) => prefixKey(line as string), true), inputs, 2, space);
    expect(sorted).toEqual(inputs.flat().sort(byKey(prefixKey)));
    expect(space.spills.length).toBeGreaterThan(2);
    expect(readdirSync(space.dir)).toEqual([]);
  });

  it("refuses a corrupt block with a clear error", () => {
    expect(() => forEachSegment(Uint8Array.of(7, 0, 0, 0, 0), () => undefined)).toThrow(/corrupt sort block/);
    expect(() => forEachSegment(Uint8Array.of(0, 9, 0, 0, 0, 1), () => undefined)).toThrow(/corrupt sort block/);
  });

  it("range bounds from the samples split the keys: every partition's keys below the next one's", () => {
    const inputs = [lines(4000, 6, "abcdefgh")];
    const compare = sortOrder(true);
    const bounds = rangeBounds([packRecords([{ count: 4000, keys: inputs[0]!.map(prefixKey) }])], 4, compare);
    expect(bounds.length).toBe(3);
    expect(shuffleAndSort(sortByBehavior((line) => prefixKey(line as string), true), inputs, 4)).toEqual(inputs.flat().sort(byKey(prefixKey)));
  });
});
