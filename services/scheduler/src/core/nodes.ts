/**
 * The node registry built from executor registrations, and a node's loss or
 * revival (its shuffle service gone, or answering again). What follows from
 * a loss (its executors lost, its outputs unregistered) is the dispatcher's
 * nodeLost handler; decommission state is decommission.ts'.
 */
import type { Ctx } from "./context.js";
import type { NodeState, SchedulerState } from "./state.js";
import type { ExecutorDescription } from "./types.js";

/** The node record for a registering executor; `fresh` when the executor id is new to the node. */
export function ensureNode(state: SchedulerState, description: ExecutorDescription): { node: NodeState; fresh: boolean } {
  let node = state.nodes.get(description.nodeId);
  if (!node) {
    node = {
      nodeId: description.nodeId,
      shuffleAddress: description.shuffleAddress,
      executorIds: [],
      lost: false,
      lostReason: "",
      excludedUntilMs: 0,
      excludedReason: "",
      score: { failed: 0, total: 0, atMs: 0 },
    };
    state.nodes.set(node.nodeId, node);
  }
  node.shuffleAddress = description.shuffleAddress;
  const fresh = !node.executorIds.includes(description.executorId);
  if (fresh) node.executorIds.push(description.executorId);
  return { node, fresh };
}

/** A registration brings a lost node back (its shuffle service answers again); true if it was lost. */
export function reviveNode(node: NodeState): boolean {
  const wasLost = node.lost;
  node.lost = false;
  node.lostReason = "";
  node.probeVerdictDueMs = undefined;
  return wasLost;
}

/**
 * How long a resubmission waits at most for a probed shuffle service's verdict: longer than the
 * shell's probes take (rpc/peers.ts), and short enough that a verdict which never comes (its
 * probe died with a deposed scheduler) delays recovery by little.
 */
export const PROBE_VERDICT_WAIT_MS = 6_000;

/** A probe of the node's shuffle service went out: losses found meanwhile wait for its verdict. */
export function awaitProbeVerdict(node: NodeState, now: number): void {
  node.probeVerdictDueMs ??= now + PROBE_VERDICT_WAIT_MS;
}

/** The shuffle service's probe answered (lost or serving), or a fetch failure found it unreachable: nothing more to wait for there. */
export function probeVerdictReceived(state: SchedulerState, shuffleAddress: string): void {
  for (const node of state.nodes.values()) {
    if (node.shuffleAddress === shuffleAddress) node.probeVerdictDueMs = undefined;
  }
}

/** A new leader: the deposed one's probes answer nobody, so resubmissions must not wait for them. */
export function forgetProbeVerdicts(state: SchedulerState): void {
  for (const node of state.nodes.values()) node.probeVerdictDueMs = undefined;
}

/** Until when a verdict is still awaited (the latest due time of any pending probe), undefined if none is. */
export function pendingProbeVerdictsDueMs(state: SchedulerState, now: number): number | undefined {
  let latest: number | undefined;
  for (const node of state.nodes.values()) {
    const due = node.probeVerdictDueMs;
    if (due !== undefined && due > now && (latest === undefined || due > latest)) latest = due;
  }
  return latest;
}

/**
 * The node's shuffle service at `shuffleAddress` is gone: the node is lost
 * (true), unless the report is about an address it no longer uses (a
 * replaced machine) or it is already lost (false).
 */
export function markNodeLost(ctx: Ctx, nodeId: string, shuffleAddress: string, why: string): boolean {
  const node = ctx.state.nodes.get(nodeId);
  if (!node || node.lost || node.shuffleAddress !== shuffleAddress) return false;
  node.lost = true;
  node.lostReason = why;
  return true;
}
