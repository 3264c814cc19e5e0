import { describe, expect, it } from "vitest";
import { canonicalKey, hashKey, KeyedMap, partitionOf } from "./keys.js";
import { decodeCollected, forEachRecordIn, packRecords } from "./codec.js";

describe("key hashing", () => {
  it("is a fixed function of the key (map tasks in every process must agree)", () => {
    // Golden values: changing them silently would mix up map outputs of old and new executors.
    expect(["hello", "", 0, -0, 1, 1.5, -7, 2 ** 40, true, null, undefined, 10n, [1, "x"], { b: 1, a: 2 }, "1"].map(hashKey)).toEqual([
      3715931116, 67918732, 192349157, 192349157, 4269446136, 2120630976, 2737912745, 708683343, 947459017, 17585875,
      808256, 2523544632, 2465732449, 4114801034, 477391495,
    ]);
  });

  it("hashes a key the same after a msgpack round trip", () => {
    const keys = ["wörd", 3, 2.25, [1, ["a", null]], { z: 1, a: [true] }];
    const decoded: unknown[] = [];
    forEachRecordIn(packRecords(keys), (key) => decoded.push(key));
    expect(decoded.map(hashKey)).toEqual(keys.map(hashKey));
  });

  it("spreads keys over partitions", () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`w${i}`, 8)]++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
    expect(partitionOf("anything", 1)).toBe(0);
  });

  it("canonical keys ignore object key order", () => {
    expect(canonicalKey({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalKey({ a: { c: 3, d: 2 }, b: 1 }));
    expect(canonicalKey([1, "1"])).not.toBe(canonicalKey(["1", 1]));
  });
});

describe("KeyedMap", () => {
  it("merges equal keys and keeps different types apart", () => {
    const map = new KeyedMap<number>();
    const add = (key: unknown, value: number) => map.merge(key, value, (v) => v, (a, b) => a + b);
    for (const [key, value] of [[1, 1], ["1", 2], [1, 3], [[1], 4], [[1], 5], [undefined, 6], [undefined, 7]] as const) add(key, value);
    const entries: [unknown, number][] = [];
    map.forEach((key, value) => entries.push([key, value]));
    expect(entries).toEqual([["1", 2], [1, 4], [undefined, 13], [[1], 9]]);
    expect(map.size).toBe(4);
    expect(map.get([1])).toBe(9);
    expect(map.has("2")).toBe(false);
  });

  it("keeps any string key, even one an object would treat specially, and undefined values", () => {
    const map = new KeyedMap<unknown>();
    const keys = ["__proto__", "constructor", "toString", "b", "10", "2", "", "hasOwnProperty"];
    for (const key of keys) map.merge(key, 1, (v) => v, (a, b) => (a as number) + (b as number));
    map.merge("__proto__", 2, (v) => v, (a, b) => (a as number) + (b as number));
    map.merge("u", undefined, (v) => v, () => "merged");
    map.merge("u", undefined, (v) => v, () => "merged");
    expect(map.size).toBe(keys.length + 1);
    expect(map.get("__proto__")).toBe(3);
    expect(map.get("missing")).toBeUndefined();
    expect(map.has("u")).toBe(true);
    const seen: unknown[] = [];
    map.forEach((key) => seen.push(key));
    // Insertion order, index-like strings too (an object would list those first, ascending).
    expect(seen).toEqual([...keys, "u"]);
    expect(map.get("u")).toBe("merged");
  });
});

describe("codec", () => {
  it("decodes several concatenated packed arrays and empty blocks", () => {
    const block = Buffer.concat([packRecords([1, "a"]), packRecords([{ x: [1, 2] }])]);
    expect(decodeCollected([block, new Uint8Array(0), packRecords([null])])).toEqual([1, "a", { x: [1, 2] }, null]);
  });
});
