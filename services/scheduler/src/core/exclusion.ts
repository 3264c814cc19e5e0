/**
 * Exclusion on failure, Spark's model (`ballast.excludeOnFailure.*`; the
 * pure rules are in exclusionRules.ts):
 * - task level (soft): a partition avoids executors and nodes where it failed
 *   too often; when every usable executor is avoided it still runs (so a
 *   user bug fails after ballast.task.maxFailures with the user's message);
 * - stage level: per stage attempt, executors with too many failed tasks and
 *   nodes with too many such executors get none of its tasks;
 * - application level: failures of successful stage attempts accumulate per
 *   executor (within the timeout); too many exclude it cluster-wide, and too
 *   many excluded executors exclude their node; each such exclusion has an
 *   expiry timer;
 * - a decaying cross-job failure score per node (EWMA over time);
 * never more than maxExcludedNodeRatio of the known nodes. (A stage that
 * exclusions leave nowhere to run aborts after unschedulableTimeout: scheduling.ts.)
 */
import type { Conf } from "@ballast/common/config";
import { aliveExecutorsOf, isKnownNode } from "./clusterQueries.js";
import { emitEvent, jobSpanKey, spanEvent, spanEventOnRunningJobs, type Ctx } from "./context.js";
import { excludedNodeCount, isNodeExcluded, maxExcludedNodes, MIN_SCORED_ATTEMPTS, withinCap } from "./exclusionRules.js";
import type { ExecutorState, JobState, NodeState, StageAttempt, StageState } from "./state.js";
import { clearTimer, setTimer } from "./timers.js";

/** A counted task failure (user or executor error) of `partition` on `executorId`. */
export function recordTaskFailure(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, partition: number, executorId: string): void {
  const executor = ctx.state.executors.get(executorId)!;
  const nodeId = executor.description.nodeId;
  const run = attempt.runs.get(partition);
  run?.failedExecutors.push(executorId);
  run?.failedNodes.push(nodeId);
  updateNodeScore(ctx, nodeId, true);
  if (!job.conf["ballast.excludeOnFailure.enabled"]) return;
  let failures = attempt.execFailures.get(executorId);
  if (!failures) attempt.execFailures.set(executorId, (failures = { nodeId, partitions: [], times: [] }));
  failures.times.push(ctx.now);
  if (!failures.partitions.includes(partition)) failures.partitions.push(partition);
  const maxTasks = job.conf["ballast.excludeOnFailure.stage.maxFailedTasksPerExecutor"];
  if (failures.partitions.length < maxTasks || attempt.excludedExecutors.has(executorId)) return;
  const ratio = job.conf["ballast.excludeOnFailure.maxExcludedNodeRatio"];
  if (!withinCap(ctx.state, ratio, { attempt, executorId })) {
    spanEvent(ctx, jobSpanKey(job.jobId), "exclusionSkipped", { "ballast.executor_id": executorId, "ballast.reason": "maxExcludedNodeRatio cap reached" });
    return;
  }
  attempt.excludedExecutors.add(executorId);
  announceStageExclusion(ctx, job, stage, "executor", executorId, `${failures.partitions.length} failed tasks in stage ${stage.stageId} attempt ${attempt.attempt}`);
  let excludedOnNode = 0;
  for (const id of attempt.excludedExecutors) if (ctx.state.executors.get(id)!.description.nodeId === nodeId) excludedOnNode++;
  if (excludedOnNode < job.conf["ballast.excludeOnFailure.stage.maxFailedExecutorsPerNode"] || attempt.excludedNodes.has(nodeId)) return;
  if (!withinCap(ctx.state, ratio, { attempt, nodeId })) return;
  attempt.excludedNodes.add(nodeId);
  announceStageExclusion(ctx, job, stage, "node", nodeId, `${excludedOnNode} executors excluded in stage ${stage.stageId} attempt ${attempt.attempt}`);
}

function announceStageExclusion(ctx: Ctx, job: JobState, stage: StageState, scope: "executor" | "node", id: string, reason: string): void {
  emitEvent(ctx, job.jobId, { type: "exclusionChanged", scope, id, excluded: true, untilMs: 0, reason, stageScoped: true, stageId: stage.stageId });
  spanEvent(ctx, jobSpanKey(job.jobId), "exclusionChanged", { "ballast.scope": scope, "ballast.id": id, "ballast.excluded": true, "ballast.stage_id": stage.stageId, "ballast.reason": reason });
}

/** A task attempt ended on the node (success or counted failure): the cross-job score moves. */
export function updateNodeScore(ctx: Ctx, nodeId: string, failed: boolean): void {
  const { state } = ctx;
  const node = state.nodes.get(nodeId);
  if (!node) return;
  const score = node.score;
  const decay = Math.pow(2, -(ctx.now - score.atMs) / state.conf["ballast.excludeOnFailure.nodeScore.halfLife"]);
  score.failed = score.failed * decay + (failed ? 1 : 0);
  score.total = score.total * decay + 1;
  score.atMs = ctx.now;
  if (!failed || !state.conf["ballast.excludeOnFailure.enabled"] || node.excludedUntilMs !== 0) return;
  const share = score.failed / score.total;
  if (score.total < MIN_SCORED_ATTEMPTS || share <= state.conf["ballast.excludeOnFailure.nodeScore.threshold"]) return;
  excludeNode(ctx, state.conf, node, `failure score ${share.toFixed(2)} of ${score.total.toFixed(1)} decayed task attempts above ${state.conf["ballast.excludeOnFailure.nodeScore.threshold"]}`);
}

/** A stage attempt succeeded: its failures count toward application-level exclusion (Spark counts only successful task sets). */
export function onAttemptSucceeded(ctx: Ctx, job: JobState, attempt: StageAttempt): void {
  if (!job.conf["ballast.excludeOnFailure.enabled"] || attempt.execFailures.size === 0) return;
  const { state } = ctx;
  const since = ctx.now - job.conf["ballast.excludeOnFailure.timeout"];
  for (const [executorId, failures] of attempt.execFailures) {
    const executor = state.executors.get(executorId)!;
    executor.failureTimes = [...executor.failureTimes.filter((time) => time > since), ...failures.times];
    const count = executor.failureTimes.length;
    if (executor.excludedUntilMs !== 0 || count < job.conf["ballast.excludeOnFailure.application.maxFailedTasksPerExecutor"]) continue;
    if (!excludeExecutor(ctx, job.conf, executor, `${count} failed tasks in successful stages`)) continue;
    const node = state.nodes.get(executor.description.nodeId)!;
    const excludedOnNode = node.executorIds.filter((id) => state.executors.get(id)!.excludedUntilMs !== 0).length;
    if (node.excludedUntilMs === 0 && excludedOnNode >= job.conf["ballast.excludeOnFailure.application.maxFailedExecutorsPerNode"]) {
      excludeNode(ctx, job.conf, node, `${excludedOnNode} executors excluded on it`);
    }
  }
}

function excludeExecutor(ctx: Ctx, conf: Conf, executor: ExecutorState, reason: string): boolean {
  const executorId = executor.description.executorId;
  if (!withinCap(ctx.state, conf["ballast.excludeOnFailure.maxExcludedNodeRatio"], { executorId })) {
    spanEventOnRunningJobs(ctx, "exclusionSkipped", { "ballast.executor_id": executorId, "ballast.reason": `maxExcludedNodeRatio cap reached (${reason})` });
    return false;
  }
  executor.excludedUntilMs = Math.max(1, ctx.now + conf["ballast.excludeOnFailure.timeout"]);
  executor.excludedReason = reason;
  setTimer(ctx.state, "executorExclusion", executorId, executor.excludedUntilMs);
  announce(ctx, "executor", executorId, true, executor.excludedUntilMs, reason);
  if (conf["ballast.excludeOnFailure.killExcludedExecutors"] && executor.alive) {
    ctx.out.push({ type: "shutdownExecutor", executorId, reason: `excluded: ${reason}` });
  }
  return true;
}

function excludeNode(ctx: Ctx, conf: Conf, node: NodeState, reason: string): void {
  if (!withinCap(ctx.state, conf["ballast.excludeOnFailure.maxExcludedNodeRatio"], { nodeId: node.nodeId })) {
    spanEventOnRunningJobs(ctx, "exclusionSkipped", { "ballast.node_id": node.nodeId, "ballast.reason": `maxExcludedNodeRatio cap reached (${reason})` });
    return;
  }
  node.excludedUntilMs = Math.max(1, ctx.now + conf["ballast.excludeOnFailure.timeout"]);
  node.excludedReason = reason;
  setTimer(ctx.state, "nodeExclusion", node.nodeId, node.excludedUntilMs);
  announce(ctx, "node", node.nodeId, true, node.excludedUntilMs, reason);
  if (!conf["ballast.excludeOnFailure.killExcludedExecutors"]) return;
  for (const executor of aliveExecutorsOf(ctx.state, node)) {
    ctx.out.push({ type: "shutdownExecutor", executorId: executor.description.executorId, reason: `node ${node.nodeId} excluded: ${reason}` });
  }
}

/** Application-level changes are cluster events (empty job id) and span events on every running job. */
function announce(ctx: Ctx, scope: "executor" | "node", id: string, excluded: boolean, untilMs: number, reason: string): void {
  emitEvent(ctx, "", { type: "exclusionChanged", scope, id, excluded, untilMs, reason, stageScoped: false, stageId: 0 });
  spanEventOnRunningJobs(ctx, "exclusionChanged", { "ballast.scope": scope, "ballast.id": id, "ballast.excluded": excluded, "ballast.until_ms": untilMs, "ballast.reason": reason });
}

/** The executor's exclusion timer fired. */
export function expireExecutorExclusion(ctx: Ctx, executorId: string): void {
  const executor = ctx.state.executors.get(executorId);
  if (executor && executor.excludedUntilMs !== 0) includeExecutor(ctx, executor, "exclusion timeout expired");
}

/** The node's exclusion timer fired. */
export function expireNodeExclusion(ctx: Ctx, nodeId: string): void {
  const node = ctx.state.nodes.get(nodeId);
  if (node && node.excludedUntilMs !== 0) includeNode(ctx, node, "exclusion timeout expired");
}

/**
 * Lifts application-level exclusions that the cap no longer allows (nodes
 * were lost or executors died, so the same exclusions are a larger share).
 */
export function enforceCap(ctx: Ctx): void {
  const { state } = ctx;
  const ratio = state.conf["ballast.excludeOnFailure.maxExcludedNodeRatio"];
  let { excluded, known } = excludedNodeCount(state);
  if (excluded <= maxExcludedNodes(known, ratio)) return;
  // Lift whole nodes, the exclusions ending soonest first.
  const candidates = [...state.nodes.values()].filter((node) => isKnownNode(node) && isNodeExcluded(state, node, {}));
  const endOf = (node: NodeState): number => Math.min(node.excludedUntilMs || Infinity, ...aliveExecutorsOf(state, node).map((executor) => executor.excludedUntilMs || Infinity));
  candidates.sort((a, b) => endOf(a) - endOf(b) || (a.nodeId < b.nodeId ? -1 : 1));
  for (const node of candidates) {
    if (excluded <= maxExcludedNodes(known, ratio)) return;
    const reason = "lifted: more than maxExcludedNodeRatio of the nodes would be excluded";
    if (node.excludedUntilMs !== 0) includeNode(ctx, node, reason);
    for (const executor of aliveExecutorsOf(state, node)) if (executor.excludedUntilMs !== 0) includeExecutor(ctx, executor, reason);
    excluded--;
  }
}

function includeExecutor(ctx: Ctx, executor: ExecutorState, reason: string): void {
  executor.excludedUntilMs = 0;
  executor.excludedReason = "";
  executor.failureTimes = [];
  clearTimer(ctx.state, "executorExclusion", executor.description.executorId);
  announce(ctx, "executor", executor.description.executorId, false, 0, reason);
}

function includeNode(ctx: Ctx, node: NodeState, reason: string): void {
  node.excludedUntilMs = 0;
  node.excludedReason = "";
  clearTimer(ctx.state, "nodeExclusion", node.nodeId);
  announce(ctx, "node", node.nodeId, false, 0, reason);
}
