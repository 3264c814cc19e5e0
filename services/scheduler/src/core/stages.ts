/**
 * Stage lifecycle: which stages run (parents complete), attempts, the map
 * output registry, zombie attempts after fetch failures, and the batched
 * resubmission of missing partitions in dependency order. Changes stages,
 * their attempts and the job's shuffles; a completed stage or a job to abort
 * is raised as an internal event.
 */
import { neededParentIds } from "./cachedStages.js";
import { isAt } from "./clusterQueries.js";
import { emitEvent, jobSpanKey, markChanged, raise, spanEnd, spanEvent, spanStart, stageSpanKey, type Ctx } from "./context.js";
import { pendingProbeVerdictsDueMs } from "./nodes.js";
import { newRun, requeue } from "./partitionRuns.js";
import {
  activeAttempt,
  hasOutput,
  isStageComplete,
  type JobState,
  type ShuffleState,
  type StageAttempt,
  type StageState,
} from "./state.js";
import { shuffleById } from "./taskQueries.js";
import { clearTimer, setTimer, stageTimerKey } from "./timers.js";
import type { Input, MapStatus } from "./types.js";
import type { InternalEvent } from "./internalEvents.js";

type ResultProduced = Extract<InternalEvent, { kind: "resultProduced" }>;

/**
 * Makes progress toward the result stage (not yet complete): starts an
 * attempt of every needed stage whose parents are complete, recursing into
 * incomplete parents first. Does nothing while fetch failures are being batched.
 */
export function advanceJob(ctx: Ctx, job: JobState): void {
  if (job.resubmitAtMs !== undefined) return;
  submitStage(ctx, job, job.stages[job.resultStageId]!, new Set());
}

function submitStage(ctx: Ctx, job: JobState, stage: StageState, visited: Set<number>): void {
  if (visited.has(stage.stageId) || isStageComplete(job, stage)) return;
  visited.add(stage.stageId);
  let parentsReady = true;
  for (const parentId of neededParentIds(ctx.state, job, stage)) {
    const parent = job.stages[parentId]!;
    if (isStageComplete(job, parent)) continue;
    parentsReady = false;
    submitStage(ctx, job, parent, visited);
  }
  if (parentsReady && !activeAttempt(stage)) startAttempt(ctx, job, stage);
}

/** A new attempt of the stage for its missing partitions only. */
function startAttempt(ctx: Ctx, job: JobState, stage: StageState): void {
  const partitions: number[] = [];
  for (let partition = 0; partition < stage.numPartitions; partition++) {
    if (!hasOutput(job, stage, partition)) partitions.push(partition);
  }
  const attempt: StageAttempt = {
    attempt: stage.attempts.length,
    status: "running",
    partitions,
    runs: new Map(partitions.map((partition) => [partition, newRun()])),
    queue: partitions.slice(),
    queueHead: 0,
    retries: [],
    execFailures: new Map(),
    excludedExecutors: new Set(),
    excludedNodes: new Set(),
    unschedulableSinceMs: -1,
    successDurations: [],
  };
  stage.attempts.push(attempt);
  stage.status = "running";
  job.activeStages.add(stage.stageId);
  job.stats.stageAttempts++;

  spanStart(ctx, stageSpanKey(job.jobId, stage.stageId, attempt.attempt), `stage ${stage.stageId}.${attempt.attempt} ${stage.name}`, {
    "ballast.stage_id": stage.stageId,
    "ballast.stage_attempt": attempt.attempt,
    "ballast.num_tasks": partitions.length,
  }, { parentKey: jobSpanKey(job.jobId) });
  emitEvent(ctx, job.jobId, {
    type: "stageSubmitted",
    stageId: stage.stageId,
    attempt: attempt.attempt,
    name: stage.name,
    numTasks: partitions.length,
    partitions: [...partitions], // the attempt's list grows when lost partitions rejoin it
    parentStageIds: [...stage.parentStageIds],
  });
  if (attempt.attempt > 0) {
    const reason = stage.resubmitReason || "missing map outputs";
    emitEvent(ctx, job.jobId, { type: "stageResubmitted", stageId: stage.stageId, partitions: [...partitions], reason });
    spanEvent(ctx, jobSpanKey(job.jobId), "stageResubmitted", {
      "ballast.stage_id": stage.stageId,
      "ballast.partitions": partitions.join(","),
      "ballast.reason": reason,
    });
  }
  stage.resubmitReason = "";
  markChanged(ctx, job.jobId);
}

function endAttempt(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, status: "succeeded" | "failed", reason: string): void {
  attempt.status = status;
  attempt.retries = [];
  attempt.queueHead = attempt.queue.length;
  attempt.unschedulableSinceMs = -1;
  clearTimer(ctx.state, "unschedulable", stageTimerKey(job.jobId, stage.stageId));
  job.activeStages.delete(stage.stageId);
  emitEvent(ctx, job.jobId, { type: "stageEnded", stageId: stage.stageId, attempt: attempt.attempt, status, reason });
  spanEnd(ctx, stageSpanKey(job.jobId, stage.stageId, attempt.attempt), status === "failed" ? reason : undefined);
  markChanged(ctx, job.jobId);
}

/** Every partition has output: the stage is done (the caller then advances the job). */
export function completeStage(ctx: Ctx, job: JobState, stage: StageState): void {
  stage.status = "succeeded";
  stage.consecutiveFailures = 0;
  stage.failureCauses = [];
  const attempt = activeAttempt(stage);
  if (attempt) endAttempt(ctx, job, stage, attempt, "succeeded", "");
  markChanged(ctx, job.jobId);
}

/** Ends every running attempt of a job that ended. */
export function endActiveAttempts(ctx: Ctx, job: JobState, reason: string): void {
  for (const stageId of [...job.activeStages]) {
    const stage = job.stages[stageId]!;
    endAttempt(ctx, job, stage, activeAttempt(stage)!, "failed", reason);
    stage.status = "failed";
  }
}

/**
 * A fetch failure: the attempt becomes a zombie (launches nothing more). The
 * job aborts once the stage has failed maxConsecutiveAttempts in a row;
 * uncounted failures (caused by decommission) never abort.
 */
export function failStageAttempt(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, cause: string, counted = true): void {
  endAttempt(ctx, job, stage, attempt, "failed", cause);
  stage.status = "failed";
  stage.failedAttempts++;
  stage.resubmitReason = cause;
  if (!counted) return;
  stage.consecutiveFailures++;
  stage.failureCauses.push(`attempt ${attempt.attempt}: ${cause}`);
  if (stage.consecutiveFailures < job.conf["ballast.stage.maxConsecutiveAttempts"]) return;
  raise(ctx, {
    kind: "jobAbortRequested",
    jobId: job.jobId,
    error: {
      kind: "stageFailure",
      message: `Stage ${stage.stageId} (${stage.name}) failed ${stage.consecutiveFailures} consecutive attempts; most recent failure: ${cause}`,
      stack: stage.failureCauses.map((line) => `caused by ${line}`).join("\n"),
    },
  });
}

/** Per-partition progress is only needed while the job runs; views keep the counters. */
export function dropProgress(job: JobState): void {
  for (const stage of job.stages) {
    for (const attempt of stage.attempts) {
      attempt.runs.clear();
      attempt.queue = [];
      attempt.queueHead = 0;
      attempt.successDurations = [];
    }
  }
}

// ------------------------------------------------------- map output registry

export function registerMapOutput(ctx: Ctx, job: JobState, stage: StageState, status: MapStatus): void {
  const shuffle = job.shuffles[stage.shuffleWrite!]!;
  const wasComplete = shuffle.registered === shuffle.numMaps;
  if (!shuffle.outputs[status.mapIndex]) shuffle.registered++;
  shuffle.outputs[status.mapIndex] = status;
  shuffle.registeredAtMs[status.mapIndex] = ctx.now;
  shuffle.readSpec = undefined;
  stage.everSucceeded[status.mapIndex] = 1;
  job.shuffleAddresses.add(status.shuffleAddress);
  job.stats.shuffleBytesWritten += status.partitionSizes.reduce((sum, size) => sum + size, 0);
  markChanged(ctx, job.jobId);
  if (!wasComplete && shuffle.registered === shuffle.numMaps) raise(ctx, { kind: "stageCompleted", jobId: job.jobId, stageId: stage.stageId });
}

/** A result partition's output; the first one wins. */
export function recordResult(ctx: Ctx, job: JobState, stage: StageState, result: ResultProduced): void {
  const { partition, records, count, taskId } = result;
  const results = stage.results!;
  if (results[partition]) return;
  results[partition] = { records, count, taskId };
  stage.resultsDone++;
  stage.everSucceeded[partition] = 1;
  if (stage.resultsDone === stage.numPartitions) raise(ctx, { kind: "stageCompleted", jobId: job.jobId, stageId: stage.stageId });
}

/**
 * Unregisters outputs (lost or corrupt); lost partitions of a running attempt
 * are queued again, others wait for the batched resubmission. Returns how many.
 */
export function unregisterMapOutputs(ctx: Ctx, job: JobState, shuffle: ShuffleState, mapIndexes: number[], reason: string): number {
  const lost = mapIndexes.filter((mapIndex) => shuffle.outputs[mapIndex] !== undefined);
  if (lost.length === 0) return 0;
  for (const mapIndex of lost) shuffle.outputs[mapIndex] = undefined;
  shuffle.registered -= lost.length;
  shuffle.readSpec = undefined;
  job.stats.lostMapOutputs += lost.length;
  const stage = job.stages[shuffle.mapStageId]!;
  if (stage.status === "succeeded") stage.status = "waiting";
  stage.resubmitReason = `${lost.length} map output(s) of shuffle ${shuffle.shuffleId} lost: ${reason}`;
  emitEvent(ctx, job.jobId, { type: "mapOutputsLost", stageId: stage.stageId, shuffleId: shuffle.shuffleId, mapIndexes: lost, reason });
  spanEvent(ctx, jobSpanKey(job.jobId), "mapOutputsLost", {
    "ballast.shuffle_id": shuffle.shuffleId,
    "ballast.map_indexes": lost.join(","),
    "ballast.reason": reason,
  });
  for (const mapIndex of lost) requeue(job, stage, mapIndex);
  markChanged(ctx, job.jobId);
  scheduleResubmit(ctx, job);
  return lost.length;
}

/**
 * Unregisters every map output of every running job held by a shuffle
 * service (registered there at or before `registeredBy`: a stale report must
 * not take outputs written after the service came back); returns how many.
 */
export function unregisterOutputsAt(ctx: Ctx, shuffleAddress: string, reason: string, registeredBy = Infinity): number {
  let lost = 0;
  for (const jobId of [...ctx.state.runningJobs]) {
    const job = ctx.state.jobs.get(jobId)!;
    for (const shuffle of job.shuffles) {
      if (!shuffle) continue;
      const onNode: number[] = [];
      shuffle.outputs.forEach((status, mapIndex) => {
        if (status && isAt(status, shuffleAddress) && shuffle.registeredAtMs[mapIndex]! <= registeredBy) onNode.push(mapIndex);
      });
      lost += unregisterMapOutputs(ctx, job, shuffle, onNode, reason);
    }
  }
  return lost;
}

/**
 * A migrated output: readers go to its new address. Only the registered
 * copy, still at the address it left (not one recomputed meanwhile); true if repointed.
 */
export function repointMigratedOutput(ctx: Ctx, input: Extract<Input, { type: "mapOutputMigrated" }>, fromAddress: string): boolean {
  for (const jobId of ctx.state.runningJobs) {
    const job = ctx.state.jobs.get(jobId)!;
    const shuffle = shuffleById(job, input.shuffleId);
    if (!shuffle) continue;
    const status = shuffle.outputs[input.mapIndex];
    if (!status || status.attempt !== input.attempt || !isAt(status, fromAddress)) return false;
    shuffle.outputs[input.mapIndex] = { ...status, shuffleAddress: input.newAddress, nodeId: input.newNodeId };
    shuffle.registeredAtMs[input.mapIndex] = ctx.now;
    shuffle.readSpec = undefined;
    job.shuffleAddresses.add(input.newAddress);
    markChanged(ctx, jobId);
    return true;
  }
  return false;
}

// ------------------------------------------------------ batched resubmission

/** Opens the batching window; failures until it closes share one resubmission. */
export function scheduleResubmit(ctx: Ctx, job: JobState): void {
  if (job.resubmitAtMs !== undefined) return;
  job.resubmitAtMs = ctx.now + job.conf["ballast.scheduler.resubmitDelay"];
  setTimer(ctx.state, "resubmit", job.jobId, job.resubmitAtMs);
}

/**
 * The window's timer fired while a probed shuffle service's verdict is pending (nodes killed
 * together are found lost one probe or fetch failure at a time): the window stays open, a
 * resubmitDelay at a time, until the verdicts are in, so their losses share one resubmission.
 * True if it stays open. A zero resubmitDelay batches nothing and waits for nothing.
 */
export function extendForPendingVerdicts(ctx: Ctx, job: JobState): boolean {
  const delayMs = job.conf["ballast.scheduler.resubmitDelay"];
  const dueMs = pendingProbeVerdictsDueMs(ctx.state, ctx.now);
  if (delayMs === 0 || dueMs === undefined) return false;
  job.resubmitAtMs = Math.min(dueMs, ctx.now + delayMs);
  setTimer(ctx.state, "resubmit", job.jobId, job.resubmitAtMs);
  return true;
}

/** The window's timer fired: the job may advance again. */
export function closeResubmitWindow(job: JobState): void {
  job.resubmitAtMs = undefined;
}
