/**
 * Speculative copies off decommissioning nodes. A task running on a node
 * being decommissioned that is not expected to finish before the node's
 * deadline gets one copy (same stage attempt, next attempt number) on an
 * active executor elsewhere; the first of the two to succeed wins and the
 * other is killed (tasks.ts). A copy is neither a recomputation nor, when it
 * loses, a failure.
 *
 * Expected finish: launch time + the median duration of the tasks of the
 * stage attempt that already succeeded. Without any success yet, or once the
 * task has outlived that median, the time it has run so far is the lower
 * bound of what it still needs (expected finish = now + elapsed), so it is
 * copied only when the deadline is closer than that. Once the deadline is
 * reached the node is decommissioned and its tasks are no longer raced.
 *
 * Checked after every step (a copy that found no free slot is placed as soon
 * as an input frees one); nextCopyDueMs tells the shell when time alone makes
 * the next copy due, so that tick is logged and replay stays exact.
 */
import { emitEvent, jobSpanKey, spanEvent, type Ctx } from "./context.js";
import { isTaskExcluded } from "./exclusion.js";
import { aliveExecutorsOf } from "./nodes.js";
import { allowedExecutors, launch, leastLoaded } from "./scheduling.js";
import { hasOutput, parentsComplete, type LiveTask, type NodeState, type SchedulerState, type StageAttempt } from "./state.js";
import { abandonTask, scopeOf, type TaskScope } from "./tasks.js";

/** After every step: races the stragglers of decommissioning nodes (those whose copy is due and can be placed). */
export function speculateOffDecommissioning(ctx: Ctx): void {
  forEachCandidate(ctx.state, (scope, node, dueMs) => {
    if (dueMs <= ctx.now) launchCopy(ctx, scope, node);
  });
}

/**
 * When the next copy becomes due (for the shell's nextDueMs: a tick then
 * must be logged); Infinity if none. Copies already due but not placed wait
 * for capacity, which only an input brings (each step retries them).
 */
export function nextCopyDueMs(state: SchedulerState): number {
  let due = Infinity;
  forEachCandidate(state, (_scope, _node, dueMs) => {
    if (dueMs > state.nowMs) due = Math.min(due, dueMs);
  });
  return due;
}

/** Live tasks on decommissioning nodes that may still get a copy, with the time their copy is due. */
function forEachCandidate(state: SchedulerState, visit: (scope: TaskScope, node: NodeState, dueMs: number) => void): void {
  for (const nodeId of state.decommissioning) {
    const node = state.nodes.get(nodeId)!;
    const deadlineMs = node.decommission!.deadlineMs;
    if (state.nowMs >= deadlineMs) continue; // expires in this step: too late to race it
    for (const executor of aliveExecutorsOf(state, node)) {
      for (const taskId of executor.running) {
        const task = state.tasks.get(taskId)!;
        if (task.abandoned) continue;
        const scope = scopeOf(state, task);
        if (!mayCopy(state, scope)) continue;
        const dueMs = copyDueMs(task, medianDuration(scope.attempt), deadlineMs);
        if (dueMs < deadlineMs) visit(scope, node, dueMs);
      }
    }
  }
}

/** Running in a live attempt whose inputs are complete, without output and not already racing. */
function mayCopy(state: SchedulerState, scope: TaskScope): boolean {
  const { job, stage, attempt, task } = scope;
  if (job.status !== "running" || attempt.status !== "running" || !parentsComplete(job, stage)) return false;
  return attempt.runs.get(task.partition)?.state === "running" && !liveRacer(state, scope) && !hasOutput(job, stage, task.partition);
}

/**
 * The expected finish at time t is launch + median while that is still
 * ahead, else t + elapsed = 2t - launch; the copy is due from the first t
 * at which it is not before the deadline (-Infinity: due at once).
 */
function copyDueMs(task: LiveTask, medianMs: number | undefined, deadlineMs: number): number {
  const halfway = (deadlineMs + task.launchedAtMs) / 2; // from here on, 2t - launch >= deadline
  if (medianMs === undefined) return halfway;
  const medianEnd = task.launchedAtMs + medianMs;
  return medianEnd >= deadlineMs ? -Infinity : Math.max(medianEnd, halfway);
}

function expectedFinishMs(task: LiveTask, medianMs: number | undefined, now: number): number {
  if (medianMs !== undefined && task.launchedAtMs + medianMs > now) return task.launchedAtMs + medianMs;
  return now + (now - task.launchedAtMs);
}

function launchCopy(ctx: Ctx, scope: TaskScope, node: NodeState): void {
  const { job, stage, attempt, task } = scope;
  const run = attempt.runs.get(task.partition)!;
  const avoiding = job.conf["ballast.excludeOnFailure.enabled"];
  const targets = allowedExecutors(ctx, job, attempt).filter((executor) => !avoiding || !isTaskExcluded(job, run, executor));
  const target = leastLoaded(targets);
  if (!target) return; // nowhere to copy it now; tried again after every step
  const copyId = launch(ctx, job, stage, attempt, task.partition, target, true);
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

/**
 * The lower median of the attempt's successful task durations (undefined
 * without any). Memoized by sample count outside the state: a pure function
 * of it, so replay and snapshots are unaffected.
 */
const medians = new WeakMap<StageAttempt, { count: number; medianMs: number | undefined }>();

function medianDuration(attempt: StageAttempt): number | undefined {
  const values = attempt.successDurations;
  const cached = medians.get(attempt);
  if (cached?.count === values.length) return cached.medianMs;
  const sorted = values.slice().sort((a, b) => a - b);
  const medianMs = sorted.length === 0 ? undefined : sorted[(sorted.length - 1) >> 1];
  medians.set(attempt, { count: values.length, medianMs });
  return medianMs;
}

/** The other attempt of the task's race, if it is still live (not ended, not abandoned). */
export function liveRacer(state: SchedulerState, scope: TaskScope): LiveTask | undefined {
  const racing = scope.attempt.runs.get(scope.task.partition)?.racing;
  if (!racing) return undefined;
  const otherId = racing[0] === scope.task.taskId ? racing[1] : racing[1] === scope.task.taskId ? racing[0] : undefined;
  const other = otherId === undefined ? undefined : state.tasks.get(otherId);
  return other && !other.abandoned ? other : undefined;
}

/** The task won its race (or the partition has output anyway): the other attempt is killed, not a failure. */
export function killRacers(ctx: Ctx, scope: TaskScope): void {
  const other = liveRacer(ctx.state, scope);
  if (!other) return;
  abandonTask(ctx, other, `speculative race for partition ${scope.task.partition} of stage ${scope.task.stageId} won by task ${scope.task.taskId}`);
}
