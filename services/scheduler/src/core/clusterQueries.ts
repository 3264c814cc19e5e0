/**
 * Pure reads about the cluster: nodes and executors, their resource state,
 * which executors may receive tasks, and which map outputs a node holds.
 * Changes nothing; every module may use it.
 */
import { resolveResourceState, type StateClaims, type StateWithReason } from "@ballast/common/domain/states";
import { diskPartitionsAt } from "./cache.js";
import type { ExecutorState, NodeState, SchedulerState } from "./state.js";
import type { ExecutorView, MapStatus } from "./types.js";

export function nodeOf(state: SchedulerState, executor: ExecutorState): NodeState {
  return state.nodes.get(executor.description.nodeId)!;
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

export function hasUsableExecutor(state: SchedulerState): boolean {
  for (const executor of state.executors.values()) if (isUsable(state, executor)) return true;
  return false;
}

/**
 * What holds for the node, each claim with its reason: it is excluded itself,
 * or every executor alive on it is. resolveResourceState ranks the claims.
 */
function nodeClaimsOf(state: SchedulerState, node: NodeState): StateClaims {
  const claims: StateClaims = {};
  if (node.lost) claims.lost = node.lostReason;
  if (node.decommission) claims.decommission = { state: node.decommission.phase, reason: node.decommission.reason };
  if (node.excludedUntilMs !== 0) {
    claims.excluded = node.excludedReason;
  } else {
    const alive = aliveExecutorsOf(state, node);
    if (alive.length > 0 && alive.every((executor) => executor.excludedUntilMs !== 0)) {
      claims.excluded = `every executor excluded: ${alive.map((executor) => executor.excludedReason).join("; ")}`;
    }
  }
  return claims;
}

export function nodeStateOf(state: SchedulerState, node: NodeState): StateWithReason {
  return resolveResourceState(nodeClaimsOf(state, node));
}

/**
 * The node's claims hold for its executors too; the executor's own loss and
 * exclusion replace the node's (its reason is the more precise one).
 */
export function executorStateOf(state: SchedulerState, executor: ExecutorState): StateWithReason {
  const claims = nodeClaimsOf(state, nodeOf(state, executor));
  if (!executor.alive) claims.lost = executor.lostReason;
  if (executor.excludedUntilMs !== 0) claims.excluded = executor.excludedReason;
  if (executor.reconnectDeadlineMs !== 0) claims.activeReason = "waiting for it to reconnect after a scheduler failover";
  return resolveResourceState(claims);
}

export function viewOfExecutor(state: SchedulerState, executor: ExecutorState): ExecutorView {
  const description = executor.description;
  const { state: resourceState, reason } = executorStateOf(state, executor);
  const node = nodeOf(state, executor);
  return {
    ...description,
    alive: executor.alive,
    runningTasks: executor.running.size,
    registeredAtMs: executor.registeredAtMs,
    lostReason: executor.lostReason,
    state: resourceState,
    excludedUntilMs: Math.max(executor.excludedUntilMs, node.excludedUntilMs),
    stateReason: reason,
  };
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

/** Registered outputs of running jobs, and cached disk partitions, still held by the node. */
export function outputsOnNode(state: SchedulerState, node: NodeState): number {
  // Cached disk partitions are outputs too (of their pseudo shuffles): with no job running, they alone must migrate.
  let count = diskPartitionsAt(state, node.shuffleAddress);
  for (const jobId of state.runningJobs) {
    for (const shuffle of state.jobs.get(jobId)!.shuffles) {
      for (const status of shuffle?.outputs ?? []) if (status && isAt(status, node.shuffleAddress)) count++;
    }
  }
  return count;
}

/** Live tasks on the node's executors (tasks of ended jobs do not hold up the drain). */
export function runningTasksOn(state: SchedulerState, node: NodeState): number {
  let count = 0;
  for (const executor of aliveExecutorsOf(state, node)) {
    for (const taskId of executor.running) if (!state.tasks.get(taskId)!.abandoned) count++;
  }
  return count;
}
