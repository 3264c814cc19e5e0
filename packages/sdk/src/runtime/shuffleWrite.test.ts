import { describe, expect, it } from "vitest";
import { decodeCollected } from "./codec.js";
import { CombiningWriter, MAX_COMBINED_KEYS } from "./shuffleWrite.js";

describe("CombiningWriter", () => {
  it("writes its combined values out past MAX_COMBINED_KEYS keys and starts over; partial values still add up", () => {
    const writer = new CombiningWriter<number, number>(2, "reduceByKey", (v) => v, (a, b) => a + b);
    const keys = MAX_COMBINED_KEYS + 1000;
    // Every key twice, the second pass after the first has filled the map: both passes are combined apart.
    for (let pass = 0; pass < 2; pass++) for (let key = 0; key < keys; key++) writer.add([key, 1]);
    const { partitions, recordsOut } = writer.finish();
    expect(recordsOut).toBeGreaterThan(keys); // some keys left the map once before their second value
    const totals = new Map<number, number>();
    for (const [key, value] of decodeCollected(partitions) as [number, number][]) totals.set(key, (totals.get(key) ?? 0) + value);
    expect(totals.size).toBe(keys);
    expect([...totals.values()].every((total) => total === 2)).toBe(true);
  });
});
