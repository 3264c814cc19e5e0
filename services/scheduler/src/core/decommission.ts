/**
 * Graceful decommission: a decommissioning node gets no new tasks; once its
 * running tasks finish (drained) its shuffle service migrates its map
 * outputs to active peers and each one is repointed as it lands (no
 * recomputation). What is still on the node when the migration ends, the
 * deadline passes or the node is lost is unregistered and recomputed
 * proactively (batched into one resubmission per job). Recommission undoes it.
 *
 * Phases (decommissionChanged): requested, drained, migrated, expired,
 * decommissioned, recommissioned.
 */
import { emitEvent, markChanged, type Ctx } from "./context.js";
import { enforceCap } from "./exclusion.js";
import { activePeers, aliveExecutorsOf, isAt, outputsOnNode, spanEventOnRunningJobs, unregisterServiceOutputs } from "./nodes.js";
import type { NodeState, SchedulerState } from "./state.js";
import type { Input } from "./types.js";

type Migrated = Extract<Input, { type: "mapOutputMigrated" }>;
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
  announce(ctx, node, "requested", reason);
}

export function onRecommissionNode(ctx: Ctx, nodeId: string): void {
  const node = ctx.state.nodes.get(nodeId);
  if (!node?.decommission || node.lost || aliveExecutorsOf(ctx.state, node).length === 0) return;
  const deadlineMs = node.decommission.deadlineMs;
  node.decommission = undefined;
  ctx.state.decommissionedAddresses.delete(node.shuffleAddress);
  ctx.state.decommissioning.delete(nodeId);
  emitEvent(ctx, "", { type: "decommissionChanged", nodeId, phase: "recommissioned", deadlineMs, reason: "recommissioned" });
  spanEventOnRunningJobs(ctx, "decommissionChanged", { "ballast.node_id": nodeId, "ballast.phase": "recommissioned" });
}

/** A map output landed on a peer: readers go there from now on. */
export function onMapOutputMigrated(ctx: Ctx, input: Migrated): void {
  const from = ctx.state.nodes.get(input.fromNodeId);
  for (const jobId of ctx.state.runningJobs) {
    const job = ctx.state.jobs.get(jobId)!;
    const shuffle = job.shuffles.find((candidate) => candidate?.shuffleId === input.shuffleId);
    if (!shuffle) continue;
    const status = shuffle.outputs[input.mapIndex];
    // Only the registered copy, still on the node it left (not one recomputed meanwhile).
    if (!status || status.attempt !== input.attempt || !from || !isAt(status, from.shuffleAddress)) return;
    shuffle.outputs[input.mapIndex] = { ...status, shuffleAddress: input.newAddress, nodeId: input.newNodeId };
    shuffle.registeredAtMs[input.mapIndex] = ctx.now;
    shuffle.readSpec = undefined;
    job.shuffleAddresses.add(input.newAddress);
    if (from?.decommission) {
      from.decommission.migratedOutputs++;
      from.decommission.migratedBytes += input.bytes;
    }
    markChanged(ctx, jobId);
    return;
  }
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

/** After every step: drained nodes start migrating; nodes past their deadline expire. */
export function checkDecommissions(ctx: Ctx): void {
  for (const nodeId of [...ctx.state.decommissioning]) {
    const node = ctx.state.nodes.get(nodeId)!;
    const decommission = node.decommission!;
    if (ctx.now >= decommission.deadlineMs) {
      announce(ctx, node, "expired", `deadline ${decommission.deadlineMs} passed`);
      finish(ctx, node, `not migrated before the decommission deadline of node ${nodeId}`);
      continue;
    }
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

/** The node is decommissioned: what it still holds is unregistered and recomputed proactively. */
function finish(ctx: Ctx, node: NodeState, lostReason: string): void {
  node.decommission!.phase = "decommissioned";
  ctx.state.decommissioning.delete(node.nodeId);
  if (lostReason) unregisterServiceOutputs(ctx, node.shuffleAddress, lostReason);
  announce(ctx, node, "decommissioned", node.decommission!.reason);
  enforceCap(ctx);
}

/** Live tasks on the node's executors (tasks of ended jobs do not hold up the drain). */
export function runningTasksOn(state: SchedulerState, node: NodeState): number {
  let count = 0;
  for (const executor of aliveExecutorsOf(state, node)) {
    for (const taskId of executor.running) if (!state.tasks.get(taskId)!.abandoned) count++;
  }
  return count;
}

function announce(ctx: Ctx, node: NodeState, phase: string, reason: string): void {
  const deadlineMs = node.decommission?.deadlineMs ?? 0;
  emitEvent(ctx, "", { type: "decommissionChanged", nodeId: node.nodeId, phase, deadlineMs, reason });
  spanEventOnRunningJobs(ctx, "decommissionChanged", { "ballast.node_id": node.nodeId, "ballast.phase": phase, "ballast.reason": reason });
}
