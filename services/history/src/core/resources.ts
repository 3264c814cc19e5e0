import { decommissionStateOfPhase } from "@ballast/common/domain/events";
import { resolveResourceState, type ResourceState } from "@ballast/common/domain/states";

/**
 * What state an executor or node is in, worked out from the facts the
 * projections keep (each written by the newest event of its kind), so the
 * answer does not depend on the order events arrived in. The facts become
 * claims here; which claim wins is the common precedence rule
 * (resolveResourceState: lost > decommissioning > excluded > active).
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

/** The exclusion in force that explains the state best (the newest), if any. */
function effectiveExclusion(exclusions: ExclusionFacts[]): { reason: string; untilMs: number } | undefined {
  const inForce = exclusions.filter((e) => e.excluded).sort((a, b) => b.seq - a.seq);
  if (inForce.length === 0) return undefined;
  return { reason: inForce[0]!.reason, untilMs: Math.max(...inForce.map((e) => e.untilMs)) };
}

export function resolveExecutorState(facts: ExecutorFacts): ResolvedState {
  const exclusion = effectiveExclusion([facts.exclusion, facts.node.exclusion]);
  const decommission = decommissionStateOfPhase(facts.node.decommission.phase);
  const nodeReason = facts.node.decommission.reason;
  // An executor that left a node after its decommission began was decommissioned with it, not lost.
  const leftWithDecommission = !facts.alive && decommission !== undefined && facts.removedSeq > facts.node.decommission.startedSeq;
  const goneReason = facts.lostReason || nodeReason;
  const resolved = resolveResourceState({
    lost: !facts.alive && !leftWithDecommission ? goneReason : undefined,
    decommission: leftWithDecommission
      ? { state: "decommissioned", reason: goneReason }
      : decommission && { state: decommission, reason: nodeReason },
    excluded: exclusion?.reason,
  });
  return { ...resolved, excludedUntilMs: exclusion?.untilMs ?? 0 };
}

/** What a node's state needs to know of each of its executors. */
export interface NodeExecutor {
  alive: boolean;
  lostReason: string;
  removedAtMs: number;
}

/** A node whose executors are all gone (and was not decommissioned) is lost, with the last one's reason. */
export function resolveNodeState(node: NodeFacts, executors: NodeExecutor[]): ResolvedState {
  const exclusion = effectiveExclusion([node.exclusion]);
  const decommission = decommissionStateOfPhase(node.decommission.phase);
  const allGone = executors.length > 0 && executors.every((e) => !e.alive);
  const lastGone = allGone ? [...executors].sort((a, b) => b.removedAtMs - a.removedAtMs)[0] : undefined;
  const resolved = resolveResourceState({
    // A decommission explains the executors' going.
    lost: lastGone && !decommission ? lastGone.lostReason : undefined,
    decommission: decommission && { state: decommission, reason: node.decommission.reason },
    excluded: exclusion?.reason,
  });
  return { ...resolved, excludedUntilMs: exclusion?.untilMs ?? 0 };
}
