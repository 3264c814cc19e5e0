import { describe, expect, it } from "vitest";
import { UsedTickets } from "./usedTickets.js";

describe("used login tickets", () => {
  it("accepts a ticket once and remembers it until it expires", () => {
    const used = new UsedTickets();
    expect(used.claim("a", 10_000, 1_000)).toBe("first use");
    expect(used.claim("a", 10_000, 2_000)).toBe("used before");
    expect(used.claim("b", 10_000, 2_000)).toBe("first use");
    // A minute on, the sweep forgets expired tickets (which verification refuses by then anyway).
    expect(used.claim("c", 200_000, 70_000)).toBe("first use");
    expect(used.size).toBe(1);
  });

  it("stays bounded: full of live tickets it refuses new ones instead of forgetting a replayable one", () => {
    const used = new UsedTickets(2);
    expect(used.claim("a", 5_000, 1_000)).toBe("first use");
    expect(used.claim("b", 50_000, 1_000)).toBe("first use");
    expect(used.claim("c", 50_000, 2_000)).toBe("full");
    expect(used.claim("a", 5_000, 2_000)).toBe("used before");
    // Once "a" expires, a full table sweeps at once and has room again.
    expect(used.claim("c", 50_000, 5_000)).toBe("first use");
    expect(used.size).toBe(2);
  });
});
