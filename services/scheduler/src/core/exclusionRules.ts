/**
 * Pure exclusion rules (`ballast.excludeOnFailure.*`, Spark's model; the
 * changes are in exclusion.ts): whether a job's configuration is valid,
 * which executors a stage attempt or a partition must avoid, and the cap on
 * excluded nodes (never more than maxExcludedNodeRatio of the known nodes).
 */
import { resolveConf, type Conf } from "@ballast/common/config";
import { aliveExecutorsOf, isKnownNode } from "./clusterQueries.js";
import type { ExecutorState, JobState, NodeState, PartitionRun, SchedulerState, StageAttempt } from "./state.js";

/** The failure score excludes a node only once this many (decayed) attempts back it. */
export const MIN_SCORED_ATTEMPTS = 6;

/** Why a job's configuration cannot run, or undefined (exported for the shell: INVALID_ARGUMENT). */
export function confProblem(conf: Record<string, string>): string | undefined {
  let resolved: Conf;
  try {
    resolved = resolveConf(conf, {});
  } catch (error) {
    return `invalid configuration: ${(error as Error).message}`;
  }
  const perNode = resolved["ballast.excludeOnFailure.task.maxTaskAttemptsPerNode"];
  const maxFailures = resolved["ballast.task.maxFailures"];
  if (resolved["ballast.excludeOnFailure.enabled"] && perNode >= maxFailures) {
    return `ballast.excludeOnFailure.task.maxTaskAttemptsPerNode (${perNode}) must be less than ballast.task.maxFailures (${maxFailures}): ` +
      "otherwise a task failing on one bad node is never retried elsewhere. Lower maxTaskAttemptsPerNode, raise ballast.task.maxFailures, " +
      "or set ballast.excludeOnFailure.enabled=false";
  }
  return undefined;
}

/** How many nodes may be excluded at once: the ratio of known nodes, with 5% of a node of slack (0.33 x 3 allows one). */
export function maxExcludedNodes(knownNodes: number, ratio: number): number {
  return Math.floor(knownNodes * ratio + 0.05);
}

/** Hard exclusions for this job's stage attempt: application level and stage level. */
export function isExcludedFor(state: SchedulerState, job: JobState, attempt: StageAttempt, executor: ExecutorState): boolean {
  if (!job.conf["ballast.excludeOnFailure.enabled"]) return false;
  const { executorId, nodeId } = executor.description;
  if (executor.excludedUntilMs !== 0 || state.nodes.get(nodeId)!.excludedUntilMs !== 0) return true;
  return (attempt.excludedExecutors.size > 0 && attempt.excludedExecutors.has(executorId)) ||
    (attempt.excludedNodes.size > 0 && attempt.excludedNodes.has(nodeId));
}

/** Task level: the partition already failed here as often as allowed. */
export function isTaskExcluded(job: JobState, run: PartitionRun, executor: ExecutorState): boolean {
  if (run.failures === 0) return false;
  const { executorId, nodeId } = executor.description;
  return countOf(run.failedExecutors, executorId) >= job.conf["ballast.excludeOnFailure.task.maxTaskAttemptsPerExecutor"] ||
    countOf(run.failedNodes, nodeId) >= job.conf["ballast.excludeOnFailure.task.maxTaskAttemptsPerNode"];
}

function countOf(list: string[], value: string): number {
  let count = 0;
  for (const item of list) if (item === value) count++;
  return count;
}

/** An exclusion being considered, counted as if it were in place. */
export interface Hypothesis {
  executorId?: string;
  nodeId?: string;
  attempt?: StageAttempt;
}

/** Known nodes, and those excluded (explicitly, or through all their alive executors) with the hypothesis applied. */
export function excludedNodeCount(state: SchedulerState, hypothesis: Hypothesis = {}): { excluded: number; known: number } {
  let known = 0;
  let excluded = 0;
  for (const node of state.nodes.values()) {
    if (!isKnownNode(node)) continue;
    known++;
    if (isNodeExcluded(state, node, hypothesis)) excluded++;
  }
  return { excluded, known };
}

export function isNodeExcluded(state: SchedulerState, node: NodeState, { executorId, nodeId, attempt }: Hypothesis): boolean {
  if (node.excludedUntilMs !== 0 || node.nodeId === nodeId || attempt?.excludedNodes.has(node.nodeId)) return true;
  const alive = aliveExecutorsOf(state, node);
  return alive.length > 0 && alive.every((executor) => {
    const id = executor.description.executorId;
    return executor.excludedUntilMs !== 0 || id === executorId || attempt?.excludedExecutors.has(id) === true;
  });
}

export function withinCap(state: SchedulerState, ratio: number, hypothesis: Hypothesis): boolean {
  const { excluded, known } = excludedNodeCount(state, hypothesis);
  return excluded <= maxExcludedNodes(known, ratio);
}

export function describeExclusions(state: SchedulerState, attempt: StageAttempt): string {
  const parts: string[] = [];
  for (const node of state.nodes.values()) {
    if (node.excludedUntilMs !== 0) parts.push(`node ${node.nodeId} excluded until ${node.excludedUntilMs} (${node.excludedReason})`);
    else if (attempt.excludedNodes.has(node.nodeId)) parts.push(`node ${node.nodeId} excluded for the stage`);
  }
  for (const executor of state.executors.values()) {
    const id = executor.description.executorId;
    if (!executor.alive) continue;
    if (executor.excludedUntilMs !== 0) parts.push(`executor ${id} excluded until ${executor.excludedUntilMs} (${executor.excludedReason})`);
    else if (attempt.excludedExecutors.has(id)) parts.push(`executor ${id} excluded for the stage (${attempt.execFailures.get(id)?.partitions.length ?? 0} failed tasks)`);
  }
  return parts.join("; ") || "none";
}
