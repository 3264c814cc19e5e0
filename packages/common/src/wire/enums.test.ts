import { describe, expect, it } from "vitest";
import { ActionKind } from "@ballast/gen/common";
import { NodeState } from "@ballast/gen/scheduler";
import { InvalidArgumentError } from "../errors.js";
import { enumMapping } from "./enums.js";
import { actionKind } from "./plan.js";
import { nodeState, nodeStateName } from "./resources.js";

describe("enumMapping", () => {
  it("pairs camelCase domain names with PREFIX_SCREAMING_SNAKE wire members", () => {
    expect(actionKind.toWire("saveAsTextFile")).toBe(ActionKind.ACTION_KIND_SAVE_AS_TEXT_FILE);
    expect(actionKind.fromWire(ActionKind.ACTION_KIND_COLLECT)).toBe("collect");
    expect(nodeState.fromWire(NodeState.NODE_STATE_DECOMMISSIONING)).toBe("decommissioning");
  });

  it("refuses unspecified and unknown values as INVALID_ARGUMENT, or names them undefined for lenient readers", () => {
    expect(() => nodeState.fromWire(NodeState.NODE_STATE_UNSPECIFIED)).toThrow(InvalidArgumentError);
    expect(() => nodeState.fromWire(42 as NodeState)).toThrow(/unknown node state: 42/);
    expect(nodeState.nameOf(42)).toBeUndefined();
    expect(nodeStateName(NodeState.NODE_STATE_LOST)).toBe("lost");
    expect(nodeStateName(42 as NodeState)).toBe("unknown");
  });

  it("fails at load when a domain name has no wire member", () => {
    expect(() => enumMapping(NodeState, "NODE_STATE_", ["active", "retired"])).toThrow(/"retired" has no wire member NODE_STATE_RETIRED/);
  });
});
