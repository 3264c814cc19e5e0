import { describe, expect, it } from "vitest";
import { CopyError, effectiveParallelism, migrateAll, PeerSelector, type MigrationOutcome } from "./migration.js";

/** Runs migrateAll with a fake copy; `behaviour(item, peer)` returns a result or throws. */
async function run(items: number[], peers: string[], behaviour: (item: number, peer: string) => Promise<string> | string, parallelism = 2, signal = new AbortController().signal) {
  const outcomes: Array<MigrationOutcome<number, string>> = [];
  const attempts: Array<[number, string]> = [];
  let running = 0;
  let maxRunning = 0;
  await migrateAll(items, {
    peers,
    parallelism,
    signal,
    copy: async (item, peer) => {
      attempts.push([item, peer]);
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        await new Promise((r) => setTimeout(r, 1));
        return await behaviour(item, peer);
      } finally {
        running--;
      }
    },
    onOutcome: async (outcome) => void outcomes.push(outcome),
  });
  return { outcomes, attempts, maxRunning };
}

describe("migrateAll", () => {
  it("copies every item to exactly one peer, spreading them and bounding concurrency", async () => {
    const { outcomes, attempts, maxRunning } = await run([1, 2, 3, 4, 5, 6], ["b", "c"], (item, peer) => `${item}@${peer}`, 3);
    expect(outcomes.map((o) => o.item).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(attempts).toHaveLength(6);
    expect(maxRunning).toBe(3);
    const perPeer = (peer: string) => attempts.filter(([, p]) => p === peer).length;
    expect(perPeer("b")).toBe(3);
    expect(perPeer("c")).toBe(3);
  });

  it("skips a failing peer and tries another; a peer that failed is tried last afterwards", async () => {
    const { outcomes, attempts } = await run([1, 2, 3, 4], ["down", "b"], (item, peer) => {
      if (peer === "down") throw new CopyError("peer", "UNAVAILABLE: connection refused");
      return `${item}@${peer}`;
    }, 1);
    expect(outcomes.map((o) => (o.ok ? o.peer : o.error))).toEqual(["b", "b", "b", "b"]);
    expect(attempts.filter(([, p]) => p === "down")).toHaveLength(1);
  });

  it("reports an item that failed on every peer, with each peer's reason", async () => {
    const { outcomes } = await run([1], ["x", "y"], (_item, peer) => {
      throw new CopyError("peer", `${peer} is down`);
    });
    expect(outcomes).toEqual([{ item: 1, ok: false, error: "no peer took it (x: x is down; y: y is down)" }]);
  });

  it("does not try other peers when the output itself is bad", async () => {
    const { outcomes, attempts } = await run([1, 2], ["b", "c"], (item, peer) => {
      if (item === 1) throw new CopyError("output", "DATA_LOSS: partition 0: crc mismatch");
      return `${item}@${peer}`;
    }, 1);
    expect(attempts.filter(([item]) => item === 1)).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ item: 1, ok: false, error: expect.stringMatching(/crc mismatch/) });
    expect(outcomes[1]).toMatchObject({ item: 2, ok: true });
  });

  it("stops taking items once the signal aborts and reports nothing more", async () => {
    const controller = new AbortController();
    const { outcomes, attempts } = await run([1, 2, 3, 4, 5], ["b"], (item) => {
      if (item === 2) controller.abort();
      return "ok";
    }, 1, controller.signal);
    expect(attempts.map(([item]) => item)).toEqual([1, 2]);
    expect(outcomes.map((o) => o.item)).toEqual([1]);
  });

  it("waits for onOutcome before taking the next item (backpressure)", async () => {
    const order: string[] = [];
    await migrateAll([1, 2], {
      peers: ["b"],
      parallelism: 1,
      signal: new AbortController().signal,
      copy: async (item) => void order.push(`copy ${item}`),
      onOutcome: async (outcome) => {
        await new Promise((r) => setTimeout(r, 5));
        order.push(`reported ${outcome.item}`);
      },
    });
    expect(order).toEqual(["copy 1", "reported 1", "copy 2", "reported 2"]);
  });
});

describe("PeerSelector", () => {
  it("prefers the least-loaded peer and rotates among equals", () => {
    const selector = new PeerSelector(["a", "b", "c"]);
    const none = new Set<string>();
    expect(selector.pick(none)).toBe("a");
    selector.started("a");
    expect(selector.pick(none)).toBe("b");
    selector.started("b");
    selector.finished("a", true);
    expect(selector.pick(none)).toBe("c");
    expect(selector.pick(new Set(["a", "b", "c"]))).toBeUndefined();
  });
});

describe("effectiveParallelism", () => {
  it("defaults to 4 and caps at 16", () => {
    expect([0, 1, 7, 16, 100].map(effectiveParallelism)).toEqual([4, 1, 7, 16, 16]);
  });
});
