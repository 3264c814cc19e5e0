/**
 * Nodes: the registry built from executor registrations, each node's state
 * (active, excluded, decommissioning, decommissioned, lost), which executors
 * may receive tasks, and the loss of a node's shuffle service (every map
 * output there unregistered at once, recomputed in one batched resubmission).
 */
import { jobSpanKey, spanEvent, type Ctx } from "./context.js";
import { onExecutorLost } from "./executors.js";
import { unregisterMapOutputs } from "./stages.js";
import type { ExecutorState, NodeState, SchedulerState } from "./state.js";
import type { ExecutorDescription, MapStatus, ResourceState } from "./types.js";

type Attributes = Record<string, string | number | boolean>;

export function nodeOf(state: SchedulerState, executor: ExecutorState): NodeState {
  return state.nodes.get(executor.description.nodeId)!;
}

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

export function aliveExecutorsOf(state: SchedulerState, node: NodeState): ExecutorState[] {
  const alive: ExecutorState[] = [];
  for (const id of node.executorIds) {
    const executor = state.executors.get(id);
    if (executor?.alive) alive.push(executor);
  }
  return alive;
}

/** Not lost and not gone through decommission: counts toward the exclusion ratio cap. */
export function isKnownNode(node: NodeState): boolean {
  return !node.lost && node.decommission?.phase !== "decommissioned";
}

/** May receive new tasks at all (exclusions aside). */
export function isUsable(state: SchedulerState, executor: ExecutorState): boolean {
  if (!executor.alive || executor.reconnectDeadlineMs !== 0) return false;
  const node = state.nodes.get(executor.description.nodeId)!;
  return !node.lost && node.decommission === undefined;
}

export function nodeStateOf(state: SchedulerState, node: NodeState): { state: ResourceState; reason: string } {
  if (node.lost) return { state: "lost", reason: node.lostReason };
  if (node.decommission) return { state: node.decommission.phase, reason: node.decommission.reason };
  if (node.excludedUntilMs !== 0) return { state: "excluded", reason: node.excludedReason };
  const alive = aliveExecutorsOf(state, node);
  if (alive.length > 0 && alive.every((executor) => executor.excludedUntilMs !== 0)) {
    return { state: "excluded", reason: `every executor excluded: ${alive.map((executor) => executor.excludedReason).join("; ")}` };
  }
  return { state: "active", reason: "" };
}

/** Active nodes' shuffle services (migration targets), by node id. */
export function activePeers(state: SchedulerState, exceptNodeId: string): Array<{ nodeId: string; shuffleAddress: string }> {
  const peers: Array<{ nodeId: string; shuffleAddress: string }> = [];
  for (const node of state.nodes.values()) {
    if (node.nodeId === exceptNodeId || nodeStateOf(state, node).state !== "active") continue;
    if (aliveExecutorsOf(state, node).length === 0) continue;
    peers.push({ nodeId: node.nodeId, shuffleAddress: node.shuffleAddress });
  }
  return peers.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** The address belongs to a node that went through decommission (even if it was lost or replaced since). */
export function isDecommissionAddress(state: SchedulerState, shuffleAddress: string): boolean {
  return state.decommissionedAddresses.has(shuffleAddress);
}

/** New map outputs must not land on a node that is gone or has finished its decommission. */
export function isLeaving(state: SchedulerState, nodeId: string): boolean {
  const node = state.nodes.get(nodeId);
  return node === undefined || node.lost || node.decommission?.phase === "decommissioned";
}

/** Outputs are matched by shuffle address: a node id outlives a replaced machine's data. */
export function isAt(status: MapStatus, shuffleAddress: string): boolean {
  return status.shuffleAddress === shuffleAddress;
}

/**
 * Unregisters every map output of every running job held by a shuffle
 * service (registered there at or before `registeredBy`: a stale report must
 * not take outputs written after the service came back); returns how many.
 */
export function unregisterServiceOutputs(ctx: Ctx, shuffleAddress: string, reason: string, registeredBy = Infinity): number {
  let lost = 0;
  for (const jobId of [...ctx.state.runningJobs]) {
    const job = ctx.state.jobs.get(jobId)!;
    for (const shuffle of job.shuffles) {
      if (!shuffle || job.status !== "running") continue;
      const onNode: number[] = [];
      shuffle.outputs.forEach((status, mapIndex) => {
        if (status && isAt(status, shuffleAddress) && shuffle.registeredAtMs[mapIndex]! <= registeredBy) onNode.push(mapIndex);
      });
      lost += unregisterMapOutputs(ctx, job, shuffle, onNode, reason);
    }
  }
  return lost;
}

/** Registered outputs of running jobs still held by the node. */
export function outputsOnNode(state: SchedulerState, node: NodeState): number {
  let count = 0;
  for (const jobId of state.runningJobs) {
    for (const shuffle of state.jobs.get(jobId)!.shuffles) {
      for (const status of shuffle?.outputs ?? []) if (status && isAt(status, node.shuffleAddress)) count++;
    }
  }
  return count;
}

/**
 * The node's shuffle service is gone: the node is lost, its executors too
 * (their sessions are closed: they must re-register, which revives the
 * node), and every output there is unregistered and recomputed proactively.
 * A report about an address the node no longer uses (a replaced machine)
 * only concerns the outputs still registered there.
 */
export function onShuffleServiceLost(ctx: Ctx, nodeId: string, shuffleAddress: string, reason: string): void {
  const node = ctx.state.nodes.get(nodeId);
  const why = `shuffle service ${shuffleAddress} of node ${nodeId} lost: ${reason}`;
  if (node && !node.lost && node.shuffleAddress === shuffleAddress) {
    node.lost = true;
    node.lostReason = why;
    ctx.state.decommissioning.delete(nodeId);
    for (const executor of aliveExecutorsOf(ctx.state, node)) {
      const executorId = executor.description.executorId;
      ctx.out.push({ type: "closeSession", executorId, reason: why });
      onExecutorLost(ctx, executorId, why);
    }
    spanEventOnRunningJobs(ctx, "nodeLost", { "ballast.node_id": nodeId, "ballast.reason": why });
  }
  unregisterServiceOutputs(ctx, shuffleAddress, why);
}

/** Cluster-level changes (exclusion, decommission, node loss) show in every running job's trace. */
export function spanEventOnRunningJobs(ctx: Ctx, name: string, attributes: Attributes): void {
  for (const jobId of ctx.state.runningJobs) spanEvent(ctx, jobSpanKey(jobId), name, attributes);
}
