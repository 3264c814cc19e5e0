/**
 * Exclusion on failure, Spark's model (`ballast.excludeOnFailure.*`):
 * - task level (soft): a partition avoids executors and nodes where it failed
 *   too often; when every usable executor is avoided it still runs (so a
 *   user bug fails after ballast.task.maxFailures with the user's message);
 * - stage level: per stage attempt, executors with too many failed tasks and
 *   nodes with too many such executors get none of its tasks;
 * - application level: failures of successful stage attempts accumulate per
 *   executor (within the timeout); too many exclude it cluster-wide, and too
 *   many excluded executors exclude their node;
 * - a decaying cross-job failure score per node (EWMA over time);
 * never more than maxExcludedNodeRatio of the known nodes, and a stage that
 * exclusions leave nowhere to run aborts after unschedulableTimeout.
 */
import { resolveConf, type Conf } from "@ballast/common/config";
import { emitEvent, jobSpanKey, spanEvent, type Ctx } from "./context.js";
import { abortJob } from "./jobs.js";
import { aliveExecutorsOf, isKnownNode, isUsable, spanEventOnRunningJobs } from "./nodes.js";
import { activeAttempt, type ExecutorState, type JobState, type NodeState, type PartitionRun, type SchedulerState, type StageAttempt, type StageState } from "./state.js";

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

// -------------------------------------------------------------- placement

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

// ------------------------------------------------------------- recording

/** A counted task failure (user or executor error) on `executorId`. */
export function recordTaskFailure(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, run: PartitionRun, partition: number, executorId: string): void {
  const executor = ctx.state.executors.get(executorId)!;
  const nodeId = executor.description.nodeId;
  run.failedExecutors.push(executorId);
  run.failedNodes.push(nodeId);
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

// ----------------------------------------------------------------- the cap

interface Hypothesis {
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

function isNodeExcluded(state: SchedulerState, node: NodeState, { executorId, nodeId, attempt }: Hypothesis): boolean {
  if (node.excludedUntilMs !== 0 || node.nodeId === nodeId || attempt?.excludedNodes.has(node.nodeId)) return true;
  const alive = aliveExecutorsOf(state, node);
  return alive.length > 0 && alive.every((executor) => {
    const id = executor.description.executorId;
    return executor.excludedUntilMs !== 0 || id === executorId || attempt?.excludedExecutors.has(id) === true;
  });
}

function withinCap(state: SchedulerState, ratio: number, hypothesis: Hypothesis): boolean {
  const { excluded, known } = excludedNodeCount(state, hypothesis);
  return excluded <= maxExcludedNodes(known, ratio);
}

/**
 * Lifts application-level exclusions that expired or that the cap no longer
 * allows (nodes were lost, so the same exclusions are a larger share).
 */
export function reviewExclusions(ctx: Ctx): void {
  const { state } = ctx;
  for (const executor of state.executors.values()) {
    if (executor.excludedUntilMs !== 0 && executor.excludedUntilMs <= ctx.now) includeExecutor(ctx, executor, "exclusion timeout expired");
  }
  for (const node of state.nodes.values()) {
    if (node.excludedUntilMs !== 0 && node.excludedUntilMs <= ctx.now) includeNode(ctx, node, "exclusion timeout expired");
  }
  enforceCap(ctx);
}

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
  announce(ctx, "executor", executor.description.executorId, false, 0, reason);
}

function includeNode(ctx: Ctx, node: NodeState, reason: string): void {
  node.excludedUntilMs = 0;
  node.excludedReason = "";
  announce(ctx, "node", node.nodeId, false, 0, reason);
}

// ------------------------------------------------------- unschedulable sets

/** Called by placement: `allowed` usable executors remain for the attempt after exclusions. */
export function trackUnschedulable(ctx: Ctx, attempt: StageAttempt, allowed: number, hasWork: () => boolean): void {
  if (allowed > 0) {
    attempt.unschedulableSinceMs = -1;
    return;
  }
  if (attempt.unschedulableSinceMs !== -1) return;
  let usable = false;
  for (const executor of ctx.state.executors.values()) {
    if (isUsable(ctx.state, executor)) {
      usable = true;
      break;
    }
  }
  // No usable executor at all is a capacity problem, not an exclusion one.
  if (usable && hasWork()) attempt.unschedulableSinceMs = ctx.now;
}

/** Aborts jobs with a stage that exclusions kept from running for unschedulableTimeout. */
export function abortUnschedulable(ctx: Ctx): void {
  for (const jobId of [...ctx.state.runningJobs]) {
    const job = ctx.state.jobs.get(jobId)!;
    for (const stageId of job.activeStages) {
      const stage = job.stages[stageId]!;
      const attempt = activeAttempt(stage)!;
      const waitedMs = ctx.now - attempt.unschedulableSinceMs;
      if (attempt.unschedulableSinceMs === -1 || waitedMs < job.conf["ballast.excludeOnFailure.unschedulableTimeout"]) continue;
      abortJob(ctx, job, {
        kind: "unschedulable",
        message: `Stage ${stage.stageId} (${stage.name}) could not run anywhere for ${waitedMs}ms because of exclusions: ${describeExclusions(ctx.state, attempt)}`,
        stack: "",
      });
      break;
    }
  }
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
