/**
 * Graceful decommission: a decommissioning node gets no new tasks; once its
 * running tasks finish (drained) its shuffle service migrates its map
 * outputs to active peers and each one is repointed as it lands (no
 * recomputation). What is still on the node when the migration ends, the
 * deadline passes (a timer) or the node is lost is unregistered and
 * recomputed proactively (the nodeDecommissioned handler, batched into one
 * resubmission per job). Recommission undoes it. Changes only the nodes'
 * decommission records.
 *
 * Phases (decommissionChanged): requested, drained, migrated, expired,
 * decommissioned, recommissioned.
 */
import { activePeers, aliveExecutorsOf, outputsOnNode, runningTasksOn } from "./clusterQueries.js";
import { emitEvent, raise, spanEventOnRunningJobs, type Ctx } from "./context.js";
import type { NodeState } from "./state.js";
import { clearTimer, setTimer } from "./timers.js";
import type { Input } from "./types.js";

type MigrationFinished = Extract<Input, { type: "migrationFinished" }>;

export function onDecommissionNode(ctx: Ctx, nodeId: string, deadlineMs: number, reason: string): void {
  const node = ctx.state.nodes.get(nodeId);
  if (!node || node.lost || node.decommission) return; // unknown, gone, or already under way
  node.decommission = {
    phase: "decommissioning",
    deadlineMs,
    reason,
    requestedAtMs: ctx.now,
    drained: false,
    migrating: false,
    peers: [],
    migratedOutputs: 0,
    migratedBytes: 0,
  };
  ctx.state.decommissioning.add(nodeId);
  ctx.state.decommissionedAddresses.add(node.shuffleAddress);
  setTimer(ctx.state, "decommissionDeadline", nodeId, deadlineMs);
  announce(ctx, node, "requested", reason);
}

export function onRecommissionNode(ctx: Ctx, nodeId: string): void {
  const node = ctx.state.nodes.get(nodeId);
  if (!node?.decommission || node.lost || aliveExecutorsOf(ctx.state, node).length === 0) return;
  const deadlineMs = node.decommission.deadlineMs;
  forget(ctx, node);
  emitEvent(ctx, "", { type: "decommissionChanged", nodeId, phase: "recommissioned", deadlineMs, reason: "recommissioned" });
  spanEventOnRunningJobs(ctx, "decommissionChanged", { "ballast.node_id": nodeId, "ballast.phase": "recommissioned" });
}

/**
 * A registration revived the node: a lost node forgets its decommission, and
 * so does a decommissioned one getting a NEW executor id (a fresh machine
 * reusing the id).
 */
export function onNodeRevived(ctx: Ctx, node: NodeState, wasLost: boolean, fresh: boolean): void {
  if (!node.decommission || !(wasLost || (fresh && node.decommission.phase === "decommissioned"))) return;
  // A fresh machine reusing the address: failures reading it are not decommission's any more.
  forget(ctx, node);
  emitEvent(ctx, "", { type: "decommissionChanged", nodeId: node.nodeId, phase: "recommissioned", deadlineMs: 0, reason: "a new executor registered on the node" });
}

/** A lost node's decommission stops (its record stays, so fetch failures there are still known as decommission's). */
export function onNodeLost(ctx: Ctx, nodeId: string): void {
  ctx.state.decommissioning.delete(nodeId);
  clearTimer(ctx.state, "decommissionDeadline", nodeId);
}

function forget(ctx: Ctx, node: NodeState): void {
  node.decommission = undefined;
  ctx.state.decommissionedAddresses.delete(node.shuffleAddress);
  ctx.state.decommissioning.delete(node.nodeId);
  clearTimer(ctx.state, "decommissionDeadline", node.nodeId);
}

/** A map output of the node landed on a peer (repointed by stages.ts). */
export function countMigrated(node: NodeState, bytes: number): void {
  if (!node.decommission) return;
  node.decommission.migratedOutputs++;
  node.decommission.migratedBytes += bytes;
}

export function onMigrationFinished(ctx: Ctx, input: MigrationFinished): void {
  const node = ctx.state.nodes.get(input.nodeId);
  const decommission = node?.decommission;
  if (!node || decommission?.phase !== "decommissioning") return;
  const notMigrated = outputsOnNode(ctx.state, node);
  emitEvent(ctx, "", {
    type: "shuffleMigrated",
    nodeId: node.nodeId,
    outputs: decommission.migratedOutputs,
    bytes: decommission.migratedBytes,
    durationMs: input.durationMs,
    targetAddresses: decommission.peers.join(","),
    outputsNotMigrated: notMigrated,
  });
  const summary = `${decommission.migratedOutputs} outputs migrated, ${notMigrated} not${input.error ? `: ${input.error}` : ""}`;
  announce(ctx, node, "migrated", summary);
  finish(ctx, node, `not migrated off decommissioned node ${node.nodeId} (${summary})`);
}

/** The node's deadline timer fired. */
export function expireDecommission(ctx: Ctx, nodeId: string): void {
  const node = ctx.state.nodes.get(nodeId)!;
  const decommission = node.decommission!;
  announce(ctx, node, "expired", `deadline ${decommission.deadlineMs} passed`);
  finish(ctx, node, `not migrated before the decommission deadline of node ${nodeId}`);
}

/** After every step: drained nodes start migrating (or finish when nothing is left on them). */
export function reconcileDecommissions(ctx: Ctx): void {
  for (const nodeId of [...ctx.state.decommissioning]) {
    const node = ctx.state.nodes.get(nodeId)!;
    const decommission = node.decommission!;
    if (!decommission.drained) {
      if (runningTasksOn(ctx.state, node) > 0) continue;
      decommission.drained = true;
      announce(ctx, node, "drained", "no running tasks left");
    }
    if (decommission.migrating) continue;
    if (outputsOnNode(ctx.state, node) === 0) {
      finish(ctx, node, "");
      continue;
    }
    const peers = activePeers(ctx.state, nodeId);
    if (peers.length === 0) continue; // served from here until a peer appears or the deadline passes
    decommission.migrating = true;
    decommission.peers = peers.map((peer) => peer.shuffleAddress);
    ctx.out.push({ type: "migrateShuffle", nodeId, shuffleAddress: node.shuffleAddress, peers });
  }
}

/** The node is decommissioned; what it still holds is unregistered (if `lostReason`) by the nodeDecommissioned handler. */
function finish(ctx: Ctx, node: NodeState, lostReason: string): void {
  node.decommission!.phase = "decommissioned";
  ctx.state.decommissioning.delete(node.nodeId);
  clearTimer(ctx.state, "decommissionDeadline", node.nodeId);
  raise(ctx, { kind: "nodeDecommissioned", nodeId: node.nodeId, lostReason });
}

/** After the outputs left behind are unregistered. */
export function announceDecommissioned(ctx: Ctx, node: NodeState): void {
  announce(ctx, node, "decommissioned", node.decommission?.reason ?? "");
}

function announce(ctx: Ctx, node: NodeState, phase: string, reason: string): void {
  const deadlineMs = node.decommission?.deadlineMs ?? 0;
  emitEvent(ctx, "", { type: "decommissionChanged", nodeId: node.nodeId, phase, deadlineMs, reason });
  spanEventOnRunningJobs(ctx, "decommissionChanged", { "ballast.node_id": node.nodeId, "ballast.phase": phase, "ballast.reason": reason });
}
