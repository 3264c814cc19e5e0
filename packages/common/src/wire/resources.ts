// Wire <-> domain conversion of executors and nodes: ExecutorInfo, NodeInfo and the NodeState enum.
import type { ExecutorInfo } from "@ballast/gen/common";
import { NodeState as WireNodeState, type NodeInfo } from "@ballast/gen/scheduler";
import type { ExecutorDetails } from "../domain/events.js";
import { RESOURCE_STATES } from "../domain/states.js";
import type { ExecutorView, NodeView } from "../domain/views.js";
import { enumMapping } from "./enums.js";

export const nodeState = enumMapping(WireNodeState, "NODE_STATE_", RESOURCE_STATES);

/** A node state for people: its domain name, or "unknown" for a value this side does not know. */
export function nodeStateName(state: WireNodeState): string {
  return nodeState.nameOf(state) ?? "unknown";
}

export function nodeToWire(node: NodeView): NodeInfo {
  return { ...node, executorIds: [...node.executorIds], state: nodeState.toWire(node.state) };
}

/** Field by field, so what a subtype adds (history's removedAtMs) stays out; the state is its domain name already (a string field, not an enum). */
export function executorToWire(executor: ExecutorView): ExecutorInfo {
  return {
    executorId: executor.executorId,
    nodeId: executor.nodeId,
    host: executor.host,
    slots: executor.slots,
    shuffleAddress: executor.shuffleAddress,
    alive: executor.alive,
    runningTasks: executor.runningTasks,
    registeredAtMs: executor.registeredAtMs,
    lostReason: executor.lostReason,
    state: executor.state,
    excludedUntilMs: executor.excludedUntilMs,
    stateReason: executor.stateReason,
  };
}

/** What a just-registered executor is, for the ExecutorInfo fields that ExecutorDetails does not carry. */
const NEWLY_REGISTERED = { alive: true, runningTasks: 0, lostReason: "", state: "active", excludedUntilMs: 0, stateReason: "" } as const;

/**
 * An added executor on the wire. The scheduler's events carry its whole
 * ExecutorView, which is shipped as is; details alone (history's stored
 * events) get the fields of a newly registered executor.
 */
export function executorDetailsToWire(executor: ExecutorDetails): ExecutorInfo {
  return { ...NEWLY_REGISTERED, ...executor };
}

/** Only the details: the rest of an ExecutorAdded's ExecutorInfo describes the moment it was sent, not the executor. */
export function executorDetailsFromWire(info: ExecutorInfo | undefined): ExecutorDetails {
  return {
    executorId: info?.executorId ?? "",
    nodeId: info?.nodeId ?? "",
    host: info?.host ?? "",
    slots: info?.slots ?? 0,
    shuffleAddress: info?.shuffleAddress ?? "",
    registeredAtMs: info?.registeredAtMs ?? 0,
  };
}
