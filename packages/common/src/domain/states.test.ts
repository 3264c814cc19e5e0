import { describe, expect, it } from "vitest";
import { resolveResourceState } from "./states.js";

describe("resolveResourceState", () => {
  it("ranks lost > decommissioning > excluded > active", () => {
    const decommission = { state: "decommissioning" as const, reason: "scale-in" };
    expect(resolveResourceState({ lost: "heartbeat timeout", decommission, excluded: "flaky" })).toEqual({ state: "lost", reason: "heartbeat timeout" });
    expect(resolveResourceState({ decommission, excluded: "flaky" })).toEqual({ state: "decommissioning", reason: "scale-in" });
    expect(resolveResourceState({ excluded: "flaky" })).toEqual({ state: "excluded", reason: "flaky" });
    expect(resolveResourceState({})).toEqual({ state: "active", reason: "" });
    expect(resolveResourceState({ activeReason: "waiting for it to reconnect" })).toEqual({ state: "active", reason: "waiting for it to reconnect" });
  });

  it("counts a claim with an empty reason", () => {
    expect(resolveResourceState({ lost: "" }).state).toBe("lost");
  });
});
