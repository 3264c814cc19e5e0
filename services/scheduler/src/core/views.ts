/**
 * Read-only views of the state, for the shell's RPCs and watchers.
 */
import { aliveExecutorsOf, nodeStateOf, runningTasksOn, viewOfExecutor } from "./clusterQueries.js";
import { outputsAvailable, type JobState, type NodeState, type SchedulerState, type StageState } from "./state.js";
import { firstDueMs } from "./timers.js";
import type { ExecutorView, JobView, NodeView, StageView } from "./types.js";

export function jobView(state: SchedulerState, jobId: string): JobView | undefined {
  const job = state.jobs.get(jobId);
  return job && viewOfJob(state, job);
}

/** All jobs in submission order. */
export function listJobs(state: SchedulerState): JobView[] {
  return [...state.jobs.values()].map((job) => viewOfJob(state, job));
}

export function executorViews(state: SchedulerState): ExecutorView[] {
  return [...state.executors.values()].map((executor) => viewOfExecutor(state, executor));
}

/** Nodes in order of first registration. */
export function nodeViews(state: SchedulerState): NodeView[] {
  return [...state.nodes.values()].map((node) => viewOfNode(state, node));
}

/** Task ids that are live (launched, not ended) on an executor, for the shell's bookkeeping. */
export function runningTaskIds(state: SchedulerState, executorId: string): string[] {
  return [...(state.executors.get(executorId)?.running ?? [])];
}

/**
 * The earliest time at which a tick would change anything: the first entry
 * of the timer set (timers.ts); Infinity if none. A tick before it changes
 * nothing but `nowMs`, so the shell need not persist it.
 */
export function nextDueMs(state: SchedulerState): number {
  return firstDueMs(state);
}

function viewOfNode(state: SchedulerState, node: NodeState): NodeView {
  const { state: resourceState, reason } = nodeStateOf(state, node);
  const alive = aliveExecutorsOf(state, node);
  return {
    nodeId: node.nodeId,
    state: resourceState,
    reason,
    excludedUntilMs: Math.max(node.excludedUntilMs, ...alive.map((executor) => executor.excludedUntilMs)),
    shuffleAddress: node.shuffleAddress,
    executorIds: alive.map((executor) => executor.description.executorId),
    failureScore: node.score.total > 0 ? node.score.failed / node.score.total : 0,
    decommissionDeadlineMs: node.decommission?.deadlineMs ?? 0,
    migratedOutputs: node.decommission?.migratedOutputs ?? 0,
    migratedBytes: node.decommission?.migratedBytes ?? 0,
    runningTasks: runningTasksOn(state, node),
  };
}

export function viewOfJob(state: SchedulerState, job: JobState): JobView {
  const wallTimeMs = job.status === "running" ? Math.max(0, state.nowMs - job.submittedAtMs) : job.stats.wallTimeMs;
  const view: JobView = {
    jobId: job.jobId,
    name: job.name,
    applicationId: job.applicationId,
    ...(job.plan.driver && { action: { index: job.plan.driver.actionIndex, callSite: job.plan.driver.callSite ?? "" } }),
    bundleDigest: job.bundleDigest,
    args: job.plan.args,
    status: job.status,
    submittedAtMs: job.submittedAtMs,
    finishedAtMs: job.finishedAtMs,
    stages: job.stages.map((stage) => viewOfStage(job, stage)),
    stats: { ...job.stats, wallTimeMs },
  };
  if (job.error) view.error = { ...job.error };
  if (job.result) view.result = job.result;
  return view;
}

function viewOfStage(job: JobState, stage: StageState): StageView {
  return {
    stageId: stage.stageId,
    attempt: Math.max(0, stage.attempts.length - 1),
    name: stage.name,
    status: stage.status,
    numTasks: stage.numPartitions,
    completedTasks: outputsAvailable(job, stage),
    runningTasks: stage.runningTasks,
    failedAttempts: stage.failedAttempts,
    parentStageIds: [...stage.parentStageIds],
  };
}
