import type { ResourceState } from "./types.js";

/**
 * What state an executor or node is in, worked out from the facts the
 * projections keep (each written by the newest event of its kind), so the
 * answer does not depend on the order events arrived in. Precedence, strongest
 * first: gone (lost / decommissioned), decommissioning, excluded, active.
 */

/** An application-level exclusion as the last ExclusionChanged of its target left it. */
export interface ExclusionFacts {
  excluded: boolean;
  untilMs: number;
  reason: string;
  /** Seq of that event (0: never excluded); the newer of two exclusions names the reason. */
  seq: number;
}

export interface DecommissionFacts {
  /** The last phase seen; "" when the node was never decommissioned. */
  phase: string;
  reason: string;
  /** Seq of the latest "requested" phase: executors that left after it left with the decommission. */
  startedSeq: number;
}

export interface NodeFacts {
  exclusion: ExclusionFacts;
  decommission: DecommissionFacts;
}

export interface ExecutorFacts {
  alive: boolean;
  lostReason: string;
  /** Seq of the event that removed it (when not alive). */
  removedSeq: number;
  exclusion: ExclusionFacts;
  /** Its node's facts (defaults when the node has no events of its own). */
  node: NodeFacts;
}

export interface ResolvedState {
  state: ResourceState;
  reason: string;
  /** Latest end of the exclusions in force; 0 when none is. */
  excludedUntilMs: number;
}

export const NO_EXCLUSION: ExclusionFacts = { excluded: false, untilMs: 0, reason: "", seq: 0 };
export const NO_DECOMMISSION: DecommissionFacts = { phase: "", reason: "", startedSeq: 0 };

/** requested/drained/migrated: still draining; decommissioned/expired: gone; recommissioned or unknown: none in force. */
export function decommissionState(phase: string): "decommissioning" | "decommissioned" | undefined {
  switch (phase) {
    case "requested":
    case "drained":
    case "migrated":
      return "decommissioning";
    case "decommissioned":
    case "expired": // the deadline passed: the node is taken away with what was not migrated
      return "decommissioned";
    default:
      return undefined;
  }
}

/** The exclusion in force that explains the state best (the newest), if any. */
function effectiveExclusion(exclusions: ExclusionFacts[]): { reason: string; untilMs: number } | undefined {
  const inForce = exclusions.filter((e) => e.excluded).sort((a, b) => b.seq - a.seq);
  if (inForce.length === 0) return undefined;
  return { reason: inForce[0]!.reason, untilMs: Math.max(...inForce.map((e) => e.untilMs)) };
}

export function resolveExecutorState(facts: ExecutorFacts): ResolvedState {
  const exclusion = effectiveExclusion([facts.exclusion, facts.node.exclusion]);
  const excludedUntilMs = exclusion?.untilMs ?? 0;
  const decommission = decommissionState(facts.node.decommission.phase);
  if (!facts.alive) {
    // An executor that left a node after its decommission began was decommissioned with it.
    const state = decommission && facts.removedSeq > facts.node.decommission.startedSeq ? "decommissioned" : "lost";
    return { state, reason: facts.lostReason || facts.node.decommission.reason, excludedUntilMs };
  }
  if (decommission) return { state: decommission, reason: facts.node.decommission.reason, excludedUntilMs };
  if (exclusion) return { state: "excluded", reason: exclusion.reason, excludedUntilMs };
  return { state: "active", reason: "", excludedUntilMs };
}

/** What a node's state needs to know of each of its executors. */
export interface NodeExecutor {
  alive: boolean;
  lostReason: string;
  removedAtMs: number;
}

/** A node whose executors are all gone (and was not decommissioned) is lost. */
export function resolveNodeState(node: NodeFacts, executors: NodeExecutor[]): ResolvedState {
  const exclusion = effectiveExclusion([node.exclusion]);
  const excludedUntilMs = exclusion?.untilMs ?? 0;
  const decommission = decommissionState(node.decommission.phase);
  if (decommission) return { state: decommission, reason: node.decommission.reason, excludedUntilMs };
  if (executors.length > 0 && executors.every((e) => !e.alive)) {
    const lastGone = [...executors].sort((a, b) => b.removedAtMs - a.removedAtMs)[0]!;
    return { state: "lost", reason: lastGone.lostReason, excludedUntilMs };
  }
  if (exclusion) return { state: "excluded", reason: exclusion.reason, excludedUntilMs };
  return { state: "active", reason: "", excludedUntilMs };
}
