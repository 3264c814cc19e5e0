/**
 * Speculative copies off decommissioning nodes (when a copy is due:
 * speculationRules.ts). Run after every step: a copy that found no free
 * slot is placed as soon as an input frees one. The first of the two to
 * succeed wins and the other is killed (tasks.ts); a copy is neither a
 * recomputation nor, when it loses, a failure. Each decommissioning node
 * with a copy still to come keeps a speculativeCopy timer at the time it is
 * due, so that tick is logged and replay stays exact.
 */
import { emitEvent, jobSpanKey, spanEvent, type Ctx } from "./context.js";
import { isTaskExcluded } from "./exclusionRules.js";
import { allowedExecutors, leastLoaded } from "./placement.js";
import { expectedFinishMs, forEachCandidate, medianDuration, nextCopyDueByNode } from "./speculationRules.js";
import type { NodeState } from "./state.js";
import type { TaskScope } from "./taskQueries.js";
import { launchTask } from "./tasks.js";
import { clearTimer, setTimer, timerDueMs, timersOfKind } from "./timers.js";

/** Races the stragglers of decommissioning nodes (those whose copy is due and can be placed). */
export function speculateOffDecommissioning(ctx: Ctx): void {
  forEachCandidate(ctx.state, (scope, node, dueMs) => {
    if (dueMs <= ctx.now) launchCopy(ctx, scope, node);
  });
}

/** At the end of every step: one timer per node at its next copy's due time. */
export function refreshCopyTimers(ctx: Ctx): void {
  const { state } = ctx;
  const due = nextCopyDueByNode(state);
  for (const entry of timersOfKind(state, "speculativeCopy")) if (!due.has(entry.key)) clearTimer(state, "speculativeCopy", entry.key);
  for (const [nodeId, dueMs] of due) if (timerDueMs(state, "speculativeCopy", nodeId) !== dueMs) setTimer(state, "speculativeCopy", nodeId, dueMs);
}

function launchCopy(ctx: Ctx, scope: TaskScope, node: NodeState): void {
  const { job, stage, attempt, task } = scope;
  const run = attempt.runs.get(task.partition)!;
  const avoiding = job.conf["ballast.excludeOnFailure.enabled"];
  const targets = allowedExecutors(ctx.state, job, attempt).filter((executor) => !avoiding || !isTaskExcluded(job, run, executor));
  const target = leastLoaded(targets);
  if (!target) return; // nowhere to copy it now; tried again after every step
  const copyId = launchTask(ctx, job, stage, attempt, task.partition, target, true);
  run.racing = [task.taskId, copyId];
  const reason = `speculative copy: node ${node.nodeId} decommissioning`;
  emitEvent(ctx, job.jobId, { type: "taskResubmitted", taskId: task.taskId, stageId: stage.stageId, partition: task.partition, reason });
  spanEvent(ctx, jobSpanKey(job.jobId), "speculativeCopy", {
    "ballast.task_id": task.taskId,
    "ballast.copy_task_id": copyId,
    "ballast.partition": task.partition,
    "ballast.stage_id": stage.stageId,
    "ballast.node_id": node.nodeId,
    "ballast.executor_id": target.description.executorId,
    "ballast.expected_finish_ms": expectedFinishMs(task, medianDuration(attempt), ctx.now),
    "ballast.deadline_ms": node.decommission!.deadlineMs,
    "ballast.reason": reason,
  });
}
