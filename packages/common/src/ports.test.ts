import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { choiceRange, ephemeralPortRange, freePort } from "./ports.js";

describe("freePort", () => {
  // Below the ephemeral range unless BALLAST_PORT_RANGE says otherwise (the test setup gives each worker a slice of it; see choiceRange).
  it("hands out a bindable port from the range ports are chosen in", async () => {
    const port = await freePort();
    const { low, high } = choiceRange();
    expect(port).toBeGreaterThanOrEqual(low);
    expect(port).toBeLessThanOrEqual(high);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("choiceRange", () => {
  const saved = process.env.BALLAST_PORT_RANGE;
  const setRange = (value: string | undefined) => {
    if (value === undefined) delete process.env.BALLAST_PORT_RANGE;
    else process.env.BALLAST_PORT_RANGE = value;
  };
  const withRange = <T>(value: string | undefined, run: () => T): T => {
    setRange(value);
    try {
      return run();
    } finally {
      setRange(saved);
    }
  };
  const withRangeAsync = async <T>(value: string, run: () => Promise<T>): Promise<T> => {
    setRange(value);
    try {
      return await run();
    } finally {
      setRange(saved);
    }
  };

  it("is BALLAST_PORT_RANGE when set, and freePort keeps to it", async () => {
    expect(withRange("20000-20009", () => choiceRange())).toEqual({ low: 20_000, high: 20_009 });
    const port = await withRangeAsync("20000-20009", () => freePort());
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThanOrEqual(20_009);
  });

  it("is everything below the ephemeral range when unset", () => {
    expect(withRange(undefined, () => choiceRange())).toEqual({ low: 10_000, high: ephemeralPortRange().low - 1 });
  });

  it("refuses a malformed range with a message naming the setting", () => {
    for (const bad of ["20000", "30000-20000", "80-90", "a-b"]) {
      expect(() => withRange(bad, () => choiceRange())).toThrow(/BALLAST_PORT_RANGE must be LOW-HIGH/);
    }
  });
});
