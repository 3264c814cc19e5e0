/**
 * Speculative copies: of stragglers off decommissioning nodes (when a copy
 * is due: speculationRules.ts) and, with ballast.speculation.enabled, of
 * tasks much slower than their stage's finished ones (stragglerRules.ts).
 * Run after every step: a copy that found no free slot is placed as soon as
 * an input frees one. The first of the two to succeed wins and the other is
 * killed (tasks.ts); a copy is neither a recomputation nor, when it loses, a
 * failure. Each decommissioning node (speculativeCopy) and each stage
 * (stragglerCopy) with a copy still to come keeps a timer at the time it is
 * due, so that tick is logged and replay stays exact.
 */
import { emitEvent, jobSpanKey, spanEvent, type Ctx } from "./context.js";
import { isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, leastLoaded } from "./placement.js";
import { expectedFinishMs, forEachCandidate, medianDuration, nextCopyDueByNode } from "./speculationRules.js";
import type { ExecutorState, NodeState, SchedulerState, TimerKind } from "./state.js";
import { forEachStraggler, nextStragglerDueByStage, type StragglerCheck } from "./stragglerRules.js";
import type { TaskScope } from "./taskQueries.js";
import { launchTask } from "./tasks.js";
import { clearTimer, setTimer, timerDueMs, timersOfKind } from "./timers.js";

type SpanAttributes = Record<string, string | number | boolean>;

/** Races the stragglers of decommissioning nodes (those whose copy is due and can be placed). */
export function speculateOffDecommissioning(ctx: Ctx): void {
  forEachCandidate(ctx.state, (scope, node, dueMs) => {
    if (dueMs > ctx.now) return;
    const target = leastLoaded(copyTargets(ctx.state, scope)); // never on the decommissioning node: it is not usable
    if (target) copyDecommissioning(ctx, scope, node, target);
  });
}

/**
 * Races tasks slower than their stage's threshold. Run after regular
 * placement, as Spark offers speculative tasks only slots no pending task
 * takes: a copy must not delay a partition that has not started at all.
 */
export function speculateSlowTasks(ctx: Ctx): void {
  forEachStraggler(ctx.state, (scope, dueMs, check) => {
    if (dueMs > ctx.now) return;
    const target = slowTaskTarget(ctx.state, scope);
    if (target) copySlowTask(ctx, scope, target, check);
  });
}

/** At the end of every step: one timer per decommissioning node and per stage at its next copy's due time. */
export function refreshCopyTimers(ctx: Ctx): void {
  syncTimers(ctx.state, "speculativeCopy", nextCopyDueByNode(ctx.state));
  syncTimers(ctx.state, "stragglerCopy", nextStragglerDueByStage(ctx.state));
}

function syncTimers(state: SchedulerState, kind: TimerKind, due: Map<string, number>): void {
  for (const entry of timersOfKind(state, kind)) if (!due.has(entry.key)) clearTimer(state, kind, entry.key);
  for (const [key, dueMs] of due) if (timerDueMs(state, kind, key) !== dueMs) setTimer(state, kind, key, dueMs);
}

/** Usable executors neither the attempt nor (with excludeOnFailure) this partition is excluded from. */
function copyTargets(state: SchedulerState, { job, attempt, task }: TaskScope): ExecutorState[] {
  const run = attempt.runs.get(task.partition)!;
  const avoiding = job.conf["ballast.excludeOnFailure.enabled"];
  return allowedExecutors(state, job, attempt).filter((executor) => !avoiding || !isTaskExcluded(job, run, executor));
}

/** Another node if one has room (a slow node slows the copy too), else another executor of the same node. */
function slowTaskTarget(state: SchedulerState, scope: TaskScope): ExecutorState | undefined {
  const targets = copyTargets(state, scope);
  const nodeId = state.executors.get(scope.task.executorId)?.description.nodeId;
  return leastLoaded(targets.filter((executor) => executor.description.nodeId !== nodeId)) ?? leastLoaded(targets, { skip: scope.task.executorId });
}

function copyDecommissioning(ctx: Ctx, scope: TaskScope, node: NodeState, target: ExecutorState): void {
  raceWithCopy(ctx, scope, target, `speculative copy: node ${node.nodeId} decommissioning`, {
    "ballast.node_id": node.nodeId,
    "ballast.expected_finish_ms": expectedFinishMs(scope.task, medianDuration(scope.attempt), ctx.now),
    "ballast.deadline_ms": node.decommission!.deadlineMs,
  });
}

function copySlowTask(ctx: Ctx, scope: TaskScope, target: ExecutorState, check: StragglerCheck): void {
  const runtimeMs = ctx.now - scope.task.launchedAtMs;
  const reason = `speculative copy: slow task, ran ${runtimeMs}ms against a median of ${check.medianMs}ms over ${check.finished} finished`;
  raceWithCopy(ctx, scope, target, reason, {
    "ballast.node_id": ctx.state.executors.get(scope.task.executorId)?.description.nodeId ?? "",
    "ballast.runtime_ms": runtimeMs,
    "ballast.median_ms": check.medianMs,
    "ballast.threshold_ms": check.thresholdMs,
  });
}

/** Launches the copy as the partition's racer, with the history event and span event every copy gets. */
function raceWithCopy(ctx: Ctx, scope: TaskScope, target: ExecutorState, reason: string, attributes: SpanAttributes): void {
  const { job, stage, attempt, task } = scope;
  const copyId = launchTask(ctx, job, stage, attempt, task.partition, target, true);
  attempt.runs.get(task.partition)!.racing = [task.taskId, copyId];
  emitEvent(ctx, job.jobId, { type: "taskResubmitted", taskId: task.taskId, stageId: stage.stageId, partition: task.partition, reason });
  spanEvent(ctx, jobSpanKey(job.jobId), "speculativeCopy", {
    "ballast.task_id": task.taskId,
    "ballast.copy_task_id": copyId,
    "ballast.partition": task.partition,
    "ballast.stage_id": stage.stageId,
    ...attributes,
    "ballast.executor_id": target.description.executorId,
    "ballast.reason": reason,
  });
}
