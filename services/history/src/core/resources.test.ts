import { describe, expect, it } from "vitest";
import { NO_DECOMMISSION, NO_EXCLUSION, resolveExecutorState, resolveNodeState, type NodeFacts } from "./resources.js";

const node = (overrides: Partial<NodeFacts> = {}): NodeFacts => ({ exclusion: NO_EXCLUSION, decommission: NO_DECOMMISSION, ...overrides });
const excluded = (reason: string, untilMs: number, seq: number) => ({ excluded: true, untilMs, reason, seq });
const alive = { alive: true, lostReason: "", removedSeq: 0, exclusion: NO_EXCLUSION };

describe("resource states", () => {
  it("decommission outranks exclusion, and the newer of two exclusions gives the reason", () => {
    const both = { ...alive, exclusion: excluded("own", 500, 3), node: node({ exclusion: excluded("node", 900, 7) }) };
    expect(resolveExecutorState(both)).toEqual({ state: "excluded", reason: "node", excludedUntilMs: 900 });
    const draining = { ...both, node: { ...both.node, decommission: { phase: "drained", reason: "scale-in", startedSeq: 8 } } };
    expect(resolveExecutorState(draining)).toEqual({ state: "decommissioning", reason: "scale-in", excludedUntilMs: 900 });
  });

  it("an expired decommission leaves the node decommissioned; unknown phases change nothing", () => {
    expect(resolveNodeState(node({ decommission: { phase: "expired", reason: "deadline", startedSeq: 1 } }), []).state).toBe("decommissioned");
    expect(resolveNodeState(node({ decommission: { phase: "paused", reason: "?", startedSeq: 1 } }), []).state).toBe("active");
  });

  it("a node with executors, none alive, is lost with the last one's reason", () => {
    const gone = [
      { alive: false, lostReason: "first", removedAtMs: 10 },
      { alive: false, lostReason: "second", removedAtMs: 20 },
    ];
    expect(resolveNodeState(node(), gone)).toEqual({ state: "lost", reason: "second", excludedUntilMs: 0 });
    expect(resolveNodeState(node(), [...gone, { alive: true, lostReason: "", removedAtMs: 0 }]).state).toBe("active");
  });
});
