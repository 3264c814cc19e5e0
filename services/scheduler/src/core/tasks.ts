/**
 * Live tasks: launch (with the launch description), the end of a task
 * (reported, abandoned by us, lost with its executor, vanished from its
 * heartbeat), resubmission without counting a failure, and the end of a race
 * between a task and its speculative copy. Owns the LiveTask records, the
 * executors' slot sets and the jobs' and stages' live-task counters.
 */
import { cachedLocationsFor } from "./cache.js";
import { releaseCommit } from "./commits.js";
import { emitEvent, markChanged, raise, spanEnd, spanEvent, spanStart, stageSpanKey, taskSpanKey, type Ctx } from "./context.js";
import { requeue, setRunState } from "./partitionRuns.js";
import type { ExecutorState, JobState, LiveTask, SchedulerState, ShuffleState, StageAttempt, StageState } from "./state.js";
import { liveRacer, scopeOf, type TaskScope } from "./taskQueries.js";
import { clearTimer, setTimer } from "./timers.js";
import type { ErrorView, ShuffleReadSpec, TaskIdentity, TaskLaunch, TaskState } from "./types.js";

/** Launches a task of the partition; a speculative `copy` is never counted as a recomputation. Returns its id. */
export function launchTask(ctx: Ctx, job: JobState, stage: StageState, attempt: StageAttempt, partition: number, executor: ExecutorState, copy = false): string {
  const run = attempt.runs.get(partition)!;
  const taskAttempt = stage.nextTaskAttempt[partition]!++;
  const taskId = `${job.jobId}.${stage.stageId}.${attempt.attempt}.${partition}.${taskAttempt}`;
  const executorId = executor.description.executorId;
  run.state = "running";
  // Fields spelled out, not `{ ...identity, executorId, ... }`: on Node 20's V8 a literal that
  // spreads an object and then adds fields takes a slow path (microseconds per object).
  const task: LiveTask = { taskId, jobId: job.jobId, stageId: stage.stageId, stageAttempt: attempt.attempt, partition, attempt: taskAttempt, executorId, launchedAtMs: ctx.now, abandoned: false };
  ctx.state.tasks.set(taskId, task);
  executor.running.add(taskId);
  job.liveTasks.add(taskId);
  const timeoutMs = job.conf["ballast.task.timeout"];
  if (timeoutMs > 0) setTimer(ctx.state, "taskTimeout", taskId, ctx.now + timeoutMs);
  stage.runningTasks++;
  job.stats.tasksLaunched++;
  if (stage.everSucceeded[partition] && !copy) job.stats.recomputedTasks++;

  spanStart(ctx, taskSpanKey(taskId), `task ${stage.stageId}.${partition}`, {
    "ballast.task_id": taskId,
    "ballast.stage_id": stage.stageId,
    "ballast.stage_attempt": attempt.attempt,
    "ballast.partition": partition,
    "ballast.attempt": taskAttempt,
    "ballast.executor_id": executorId,
    "ballast.node_id": executor.description.nodeId,
  }, { parentKey: stageSpanKey(job.jobId, stage.stageId, attempt.attempt) });
  ctx.out.push({ type: "launchTask", executorId, task: taskLaunch(ctx.state, task, job, stage) });
  emitEvent(ctx, job.jobId, {
    type: "taskStarted",
    taskId,
    stageId: stage.stageId,
    stageAttempt: attempt.attempt,
    partition,
    attempt: taskAttempt,
    executorId,
    nodeId: executor.description.nodeId,
  });
  markChanged(ctx, job.jobId);
  return taskId;
}

function taskLaunch(state: SchedulerState, identity: TaskIdentity, job: JobState, stage: StageState): TaskLaunch {
  // The identity's fields spelled out: the slow literal (see launchTask).
  const launch: TaskLaunch = {
    taskId: identity.taskId,
    jobId: identity.jobId,
    stageId: identity.stageId,
    stageAttempt: identity.stageAttempt,
    partition: identity.partition,
    attempt: identity.attempt,
    bundleDigest: job.bundleDigest,
    plan: job.plan,
    datasetId: stage.datasetId,
    shuffleReads: stage.shuffleReads.map((index) => readSpec(job.shuffles[index]!)),
    conf: job.rawConf,
  };
  if (job.applicationId) {
    launch.applicationId = job.applicationId;
    const cached = cachedLocationsFor(state, job, stage, identity.partition);
    if (cached.length > 0) launch.cachedPartitions = cached;
  }
  if (stage.shuffleWrite !== undefined) {
    const shuffle = job.shuffles[stage.shuffleWrite]!;
    launch.shuffleWrite = { shuffleIndex: shuffle.shuffleIndex, shuffleId: shuffle.shuffleId, numReducePartitions: shuffle.numReducePartitions };
    if (shuffle.sampleStageId !== undefined) launch.shuffleWrite.rangeSamples = rangeSamplesOf(job, shuffle.sampleStageId);
  }
  if (stage.sampleFor !== undefined) launch.sampleFor = { shuffleIndex: stage.sampleFor };
  return launch;
}

/**
 * The recorded result of a sample stage, in partition order. The map stage
 * runs only once it is complete, and results are kept for the whole job
 * (and replayed after a failover), so every map attempt gets the same bytes.
 */
function rangeSamplesOf(job: JobState, sampleStageId: number): Uint8Array[] {
  return job.stages[sampleStageId]!.results!.map((result) => result?.records ?? new Uint8Array(0));
}

/**
 * Where a shuffle's map outputs live. Cached on the shuffle and shared by
 * every launch until the registry changes: callers must treat it as read-only.
 */
function readSpec(shuffle: ShuffleState): ShuffleReadSpec {
  if (!shuffle.readSpec) {
    const locations: ShuffleReadSpec["locations"] = [];
    shuffle.outputs.forEach((status, mapIndex) => {
      if (status) locations.push({ mapIndex, attempt: status.attempt, shuffleAddress: status.shuffleAddress, nodeId: status.nodeId });
    });
    shuffle.readSpec = { shuffleIndex: shuffle.shuffleIndex, shuffleId: shuffle.shuffleId, numMaps: shuffle.numMaps, locations };
  }
  return shuffle.readSpec;
}

/** The task no longer holds a slot on its executor. */
export function releaseSlot(state: SchedulerState, task: LiveTask): void {
  clearTimer(state, "taskTimeout", task.taskId);
  state.tasks.delete(task.taskId);
  state.executors.get(task.executorId)?.running.delete(task.taskId);
}

/** The task stops counting as live for its job and stage. */
export function retire(scope: TaskScope): void {
  scope.job.liveTasks.delete(scope.task.taskId);
  scope.stage.runningTasks--;
}

export function reportTaskEnd(ctx: Ctx, task: LiveTask, state: TaskState, error?: ErrorView, durationMs?: number): void {
  emitEvent(ctx, task.jobId, {
    type: "taskEnded",
    taskId: task.taskId,
    stageId: task.stageId,
    partition: task.partition,
    state,
    ...(error ? { error } : {}),
    durationMs: durationMs ?? ctx.now - task.launchedAtMs,
    executorId: task.executorId,
  });
  spanEnd(ctx, taskSpanKey(task.taskId), error?.message);
  markChanged(ctx, task.jobId);
}

/** We end a live task ourselves (job over, race lost): it holds its slot until the executor reports. */
export function abandonTask(ctx: Ctx, task: LiveTask, reason: string, end: { state: TaskState; error: ErrorView } = { state: "killed", error: { kind: "killed", message: reason, stack: "" } }): void {
  task.abandoned = true;
  clearTimer(ctx.state, "taskTimeout", task.taskId);
  retire(scopeOf(ctx.state, task));
  ctx.out.push({ type: "killTask", executorId: task.executorId, taskId: task.taskId, reason });
  reportTaskEnd(ctx, task, end.state, end.error);
}

/** The job is over: its tasks are killed (their slots stay taken until the executor reports) and no commit is authorized. */
export function abandonJobTasks(ctx: Ctx, job: JobState, reason: string): void {
  for (const taskId of [...job.liveTasks]) abandonTask(ctx, ctx.state.tasks.get(taskId)!, reason);
  job.commitAuth.clear();
}

/**
 * The task is gone with its executor (or the executor no longer runs it):
 * resubmit it, not counted as a failure; but a lost executor that may be the
 * task's doing (`suspect`: not a lost node, not decommission) counts toward
 * the loss bound, so a task that crashes every executor it lands on fails its
 * job instead of crash-looping the cluster.
 */
export function loseTask(ctx: Ctx, taskId: string, message: string, suspect = false): void {
  const task = ctx.state.tasks.get(taskId);
  if (!task) return;
  releaseSlot(ctx.state, task);
  if (task.abandoned) return;
  const scope = scopeOf(ctx.state, task);
  retire(scope);
  reportTaskEnd(ctx, task, "failed", { kind: "executorLost", message, stack: "" });
  releaseCommit(scope);
  if (suspect) countLoss(ctx, scope, message);
  resubmitTask(ctx, scope, message);
}

/** Aborts the job once ballast.task.maxFailures executors were lost under the partition in this stage attempt. */
function countLoss(ctx: Ctx, scope: TaskScope, message: string): void {
  const { job, stage, attempt, task } = scope;
  const run = attempt.status === "running" ? attempt.runs.get(task.partition) : undefined;
  if (!run) return; // a zombie attempt's task: the running attempt owns the partition
  run.losses++;
  const max = job.conf["ballast.task.maxFailures"];
  if (run.losses < max) return;
  const what = `Task ${task.partition} of stage ${stage.stageId} was running on ${run.losses} executors that were lost (ballast.task.maxFailures = ${max})`;
  raise(ctx, {
    kind: "jobAbortRequested",
    jobId: job.jobId,
    error: { kind: "executorLost", message: `${what}; the task may be what kills them. Most recent: ${message}`, stack: "" },
  });
}

/** The executor's heartbeat no longer lists the task: a killed one gives its slot back, a live one is lost. */
export function onTaskVanished(ctx: Ctx, taskId: string, reason: string): void {
  const task = ctx.state.tasks.get(taskId);
  if (task?.abandoned) releaseSlot(ctx.state, task);
  else loseTask(ctx, taskId, reason);
}

/** The task ended without output through no fault of its own (lost executor, foreign kill). */
export function resubmitTask(ctx: Ctx, scope: TaskScope, reason: string): void {
  const { job, stage, attempt, task } = scope;
  if (liveRacer(ctx.state, scope)) return; // the other attempt of the race carries on
  setRunState(attempt, task.partition, "idle");
  if (attempt.status !== "running" || !requeue(job, stage, task.partition)) return;
  emitEvent(ctx, job.jobId, { type: "taskResubmitted", taskId: task.taskId, stageId: stage.stageId, partition: task.partition, reason });
  spanEvent(ctx, stageSpanKey(job.jobId, stage.stageId, attempt.attempt), "taskResubmitted", {
    "ballast.task_id": task.taskId,
    "ballast.partition": task.partition,
    "ballast.reason": reason,
  });
}

/** The task won its race (or the partition has output anyway): the other attempt is killed, not a failure. */
export function killRacers(ctx: Ctx, scope: TaskScope): void {
  const other = liveRacer(ctx.state, scope);
  if (!other) return;
  abandonTask(ctx, other, `speculative race for partition ${scope.task.partition} of stage ${scope.task.stageId} won by task ${scope.task.taskId}`);
}
