/**
 * The dispatcher's one place for consequences: one handler per internal
 * event kind (internalEvents.ts) and one per timer kind. Entity modules only
 * change their own entity and raise events; the handlers here call them in
 * order, and drain() runs the queue in FIFO order until it is empty.
 */
import { parseCacheShuffleId } from "@ballast/common/domain/tasks";
import { evictApplication } from "./applications.js";
import { dropDiskAt, dropExecutorMemory, reconcileExecutorMemory, reconcileNodeDisk, repointDiskPartition } from "./cache.js";
import { cacheShrank, onCachedPartitionUnreadable } from "./cachedStages.js";
import { aliveExecutorsOf, isDecommissionAddress } from "./clusterQueries.js";
import { jobSpanKey, raise, spanEvent, spanEventOnRunningJobs, type Ctx } from "./context.js";
import { announceDecommissioned, countMigrated, expireDecommission, onNodeLost as stopDecommission, onNodeRevived } from "./decommission.js";
import { enforceCap, expireExecutorExclusion, expireNodeExclusion, onAttemptSucceeded, recordTaskFailure, updateNodeScore } from "./exclusion.js";
import { describeExclusions } from "./exclusionRules.js";
import { expiryReason, markLost, registerExecutor } from "./executors.js";
import type { InternalEvent } from "./internalEvents.js";
import { abortJob, closeJob, succeedJob } from "./jobs.js";
import { ensureNode, markNodeLost, probeVerdictReceived, reviveNode } from "./nodes.js";
import {
  advanceJob,
  closeResubmitWindow,
  completeStage,
  dropProgress,
  endActiveAttempts,
  failStageAttempt,
  recordResult,
  registerMapOutput,
  repointMigratedOutput,
  scheduleResubmit,
  extendForPendingVerdicts,
  unregisterMapOutputs,
  unregisterOutputsAt,
} from "./stages.js";
import { activeAttempt, isStageComplete, type JobState, type LiveTask, type StageState, type TimerEntry, type TimerKind } from "./state.js";
import { isStillRegistered, scopeOf, shuffleById } from "./taskQueries.js";
import { onEvictionDue } from "./retention.js";
import { onTaskTimedOut } from "./taskOutcomes.js";
import { abandonJobTasks, loseTask, onTaskVanished, resubmitTask } from "./tasks.js";
import { parseStageTimerKey, takeDueTimer } from "./timers.js";
import type { ExecutorDescription, Input, TaskFailure } from "./types.js";

/** Runs queued internal events, oldest first, including those their handlers raise, until none is left. */
export function drain(ctx: Ctx): void {
  for (let event = ctx.queue.shift(); event !== undefined; event = ctx.queue.shift()) handle(ctx, event);
}

function handle(ctx: Ctx, event: InternalEvent): void {
  if ("jobId" in event) {
    const job = ctx.state.jobs.get(event.jobId)!;
    // What a job raised before it ended is moot once it has: the one status check for all of them.
    if (event.kind !== "jobEnded" && job.status !== "running") return;
    return handleJobEvent(ctx, job, event);
  }
  switch (event.kind) {
    case "taskAttemptScored":
      return updateNodeScore(ctx, event.nodeId, event.failed);
    case "taskVanished":
      return onTaskVanished(ctx, event.taskId, event.reason);
    case "executorRegistered":
      return onExecutorRegistered(ctx, event.description);
    case "executorLost":
      loseExecutor(ctx, event.executorId, event.reason, true);
      return enforceCap(ctx);
    case "nodeLost":
      return onNodeLost(ctx, event.nodeId, event.shuffleAddress, event.reason);
    case "nodeDecommissioned":
      return onNodeDecommissioned(ctx, event.nodeId, event.lostReason);
    case "mapOutputMigrated":
      return onMapOutputMigrated(ctx, event.input);
  }
}

function handleJobEvent(ctx: Ctx, job: JobState, event: Extract<InternalEvent, { jobId: string }>): void {
  switch (event.kind) {
    case "jobProgress":
      return progress(ctx, job);
    case "jobAbortRequested":
      return abortJob(ctx, job, event.error);
    case "jobEnded":
      endActiveAttempts(ctx, job, event.reason);
      abandonJobTasks(ctx, job, event.reason);
      dropProgress(job);
      return closeJob(ctx, job);
    case "stageCompleted":
      return onStageCompleted(ctx, job, job.stages[event.stageId]!);
    case "mapOutputProduced":
      return registerMapOutput(ctx, job, job.stages[event.stageId]!, event.status);
    case "resultProduced":
      return recordResult(ctx, job, job.stages[event.stageId]!, event);
    case "fetchFailed":
      return onFetchFailed(ctx, event.task, event.failure);
    case "taskFailureCounted": {
      const stage = job.stages[event.stageId]!;
      return recordTaskFailure(ctx, job, stage, stage.attempts[event.stageAttempt]!, event.partition, event.executorId);
    }
  }
}

/** Succeeds the job once its result stage is complete, else starts the stages that can run. */
function progress(ctx: Ctx, job: JobState): void {
  if (isStageComplete(job, job.stages[job.resultStageId]!)) succeedJob(ctx, job);
  else advanceJob(ctx, job);
}

/** Its successful attempt's failures count toward application-level exclusion; its children may start. */
function onStageCompleted(ctx: Ctx, job: JobState, stage: StageState): void {
  if (!isStageComplete(job, stage)) return; // an output was lost again since it was raised
  const attempt = activeAttempt(stage);
  if (attempt) onAttemptSucceeded(ctx, job, attempt);
  completeStage(ctx, job, stage);
  progress(ctx, job);
}

/**
 * The named map output is unregistered (once per loss: a failure naming an
 * output already unregistered or replaced changes nothing and only requeues
 * the task, to run once its input is recomputed), the attempt becomes a
 * zombie, and the parents' missing partitions are resubmitted after the
 * batching window. Failures reading from a decommissioned node do not count
 * toward maxConsecutiveAttempts when ignoreDecommissionFetchFailure is set.
 */
function onFetchFailed(ctx: Ctx, task: LiveTask, failure: TaskFailure): void {
  const scope = scopeOf(ctx.state, task);
  const { job, stage, attempt } = scope;
  const fetch = failure.fetch;
  const cause = fetch
    ? `FetchFailed(shuffle ${fetch.shuffleId}, map ${fetch.mapIndex}, ${fetch.shuffleAddress || "no location"}): ${failure.message}`
    : `FetchFailed: ${failure.message}`;
  spanEvent(ctx, jobSpanKey(job.jobId), "fetchFailed", { "ballast.task_id": task.taskId, "ballast.reason": cause });
  if (fetch && parseCacheShuffleId(fetch.shuffleId)) return onCachedPartitionUnreadable(ctx, scope, fetch, cause);
  let newlyLost = 0;
  if (fetch?.serviceUnreachable) {
    const reason = `shuffle service ${fetch.shuffleAddress} (node ${fetch.nodeId || "unknown"}) unreachable; ${cause}`;
    probeVerdictReceived(ctx.state, fetch.shuffleAddress); // its outputs are unregistered now: a probe would add nothing
    newlyLost = unregisterOutputsAt(ctx, fetch.shuffleAddress, reason, task.launchedAtMs);
  } else if (fetch && isStillRegistered(job, fetch)) {
    newlyLost = unregisterMapOutputs(ctx, job, shuffleById(job, fetch.shuffleId)!, [fetch.mapIndex], cause);
  }
  if (fetch && newlyLost === 0 && !isStillRegistered(job, fetch)) {
    resubmitTask(ctx, scope, `${cause} (already known lost; rerun once recomputed)`);
    return;
  }
  const decommission = fetch !== undefined && job.conf["ballast.stage.ignoreDecommissionFetchFailure"] &&
    isDecommissionAddress(ctx.state, fetch.shuffleAddress);
  if (attempt.status === "running") failStageAttempt(ctx, job, stage, attempt, cause, !decommission);
  scheduleResubmit(ctx, job);
}

/** Its node is registered first (reviving a lost one), then the executor; a revival may change the exclusion cap. */
function onExecutorRegistered(ctx: Ctx, description: ExecutorDescription): void {
  const { node, fresh } = ensureNode(ctx.state, description);
  const wasLost = reviveNode(node);
  onNodeRevived(ctx, node, wasLost, fresh);
  if (wasLost) spanEventOnRunningJobs(ctx, "nodeRejoined", { "ballast.node_id": node.nodeId });
  registerExecutor(ctx, description);
  reconcileExecutorMemory(ctx.state, description);
  reconcileNodeDisk(ctx.state, description);
  cacheShrank(ctx);
  enforceCap(ctx);
}

/**
 * The executor is lost and its tasks with it (resubmitted, not counted as
 * failures). Unless its node is lost or decommissioning (`mayBeTasks` false
 * for a lost node), its tasks may have killed it: the losses are counted.
 */
function loseExecutor(ctx: Ctx, executorId: string, reason: string, mayBeTasks = false): void {
  const node = ctx.state.nodes.get(ctx.state.executors.get(executorId)?.description.nodeId ?? "");
  const suspect = mayBeTasks && node !== undefined && !node.lost && node.decommission === undefined;
  dropExecutorMemory(ctx.state, executorId);
  cacheShrank(ctx);
  for (const taskId of markLost(ctx, executorId, reason)) loseTask(ctx, taskId, `executor ${executorId} lost: ${reason}`, suspect);
}

/**
 * The node's shuffle service is gone: the node is lost, its executors too
 * (their sessions are closed: they must re-register, which revives the
 * node), and every output there is unregistered and recomputed proactively.
 * A report about an address the node no longer uses (a replaced machine)
 * only concerns the outputs still registered there.
 */
function onNodeLost(ctx: Ctx, nodeId: string, shuffleAddress: string, reason: string): void {
  const why = `shuffle service ${shuffleAddress} of node ${nodeId} lost: ${reason}`;
  probeVerdictReceived(ctx.state, shuffleAddress);
  if (markNodeLost(ctx, nodeId, shuffleAddress, why)) {
    stopDecommission(ctx, nodeId);
    for (const executor of aliveExecutorsOf(ctx.state, ctx.state.nodes.get(nodeId)!)) {
      const executorId = executor.description.executorId;
      ctx.out.push({ type: "closeSession", executorId, reason: why });
      loseExecutor(ctx, executorId, why);
    }
    spanEventOnRunningJobs(ctx, "nodeLost", { "ballast.node_id": nodeId, "ballast.reason": why });
  }
  unregisterOutputsAt(ctx, shuffleAddress, why);
  dropDiskAt(ctx.state, shuffleAddress);
  cacheShrank(ctx);
  enforceCap(ctx);
}

function onNodeDecommissioned(ctx: Ctx, nodeId: string, lostReason: string): void {
  const node = ctx.state.nodes.get(nodeId)!;
  if (lostReason) {
    unregisterOutputsAt(ctx, node.shuffleAddress, lostReason);
    dropDiskAt(ctx.state, node.shuffleAddress);
    cacheShrank(ctx);
  }
  announceDecommissioned(ctx, node);
  enforceCap(ctx);
}

function onMapOutputMigrated(ctx: Ctx, input: Extract<Input, { type: "mapOutputMigrated" }>): void {
  const from = ctx.state.nodes.get(input.fromNodeId);
  if (!from) return;
  const cached = parseCacheShuffleId(input.shuffleId);
  const to = { nodeId: input.newNodeId, shuffleAddress: input.newAddress };
  const moved = cached
    ? repointDiskPartition(ctx.state, cached.applicationId, cached.cacheKey, input.mapIndex, to)
    : repointMigratedOutput(ctx, input, from.shuffleAddress);
  if (moved) countMigrated(from, input.bytes);
}

// ------------------------------------------------------------------ timers

/**
 * Kinds that fire on any input, not only on ticks: they used to be checked
 * after every step. Heartbeat, exclusion and unschedulable timers wait for a
 * tick, as their checks did.
 */
const EVERY_STEP: ReadonlySet<TimerKind> = new Set<TimerKind>(["decommissionDeadline", "resubmit", "speculativeCopy", "stragglerCopy"]);

/** Fires the due timers one at a time, each one's consequences drained before the next (which they may have cleared). */
export function fireDueTimers(ctx: Ctx, tick: boolean): void {
  const kinds = tick ? undefined : EVERY_STEP;
  for (let entry = takeDueTimer(ctx.state, ctx.now, kinds); entry; entry = takeDueTimer(ctx.state, ctx.now, kinds)) {
    fire(ctx, entry);
    drain(ctx);
  }
}

function fire(ctx: Ctx, { kind, key }: TimerEntry): void {
  switch (kind) {
    case "heartbeat": {
      const reason = expiryReason(ctx, ctx.state.executors.get(key)!);
      // Its stream may still look alive (a stopped process): make it re-register.
      ctx.out.push({ type: "closeSession", executorId: key, reason });
      loseExecutor(ctx, key, reason, true);
      return enforceCap(ctx);
    }
    case "executorExclusion":
      return expireExecutorExclusion(ctx, key);
    case "nodeExclusion":
      return expireNodeExclusion(ctx, key);
    case "unschedulable":
      return abortUnschedulable(ctx, key);
    case "decommissionDeadline":
      return expireDecommission(ctx, key);
    case "resubmit": {
      const job = ctx.state.jobs.get(key)!;
      if (extendForPendingVerdicts(ctx, job)) return;
      closeResubmitWindow(job);
      return progress(ctx, job);
    }
    case "speculativeCopy":
    case "stragglerCopy":
      return; // the speculation passes after every step place the copies that are due
    case "taskTimeout":
      return onTaskTimedOut(ctx, key);
    case "jobEviction":
      return onEvictionDue(ctx, key);
    case "applicationEviction":
      return evictApplication(ctx, key);
  }
}

/** Exclusions kept the stage from running anywhere for unschedulableTimeout. */
function abortUnschedulable(ctx: Ctx, key: string): void {
  const { jobId, stageId } = parseStageTimerKey(key);
  const stage = ctx.state.jobs.get(jobId)!.stages[stageId]!;
  const attempt = activeAttempt(stage)!;
  const waitedMs = ctx.now - attempt.unschedulableSinceMs;
  raise(ctx, {
    kind: "jobAbortRequested",
    jobId,
    error: {
      kind: "unschedulable",
      message: `Stage ${stage.stageId} (${stage.name}) could not run anywhere for ${waitedMs}ms because of exclusions: ${describeExclusions(ctx.state, attempt)}`,
      stack: "",
    },
  });
}
