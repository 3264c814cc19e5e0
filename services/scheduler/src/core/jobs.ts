/**
 * Job lifecycle: submission (planning into stages), success, abort, cancel.
 */
import { resolveConf, type Conf } from "@ballast/common/config";
import { shuffleIdOf } from "@ballast/common/plan";
import { confProblem } from "./exclusion.js";
import { emitEvent, jobSpanKey, markChanged, spanEnd, spanStart, type Ctx } from "./context.js";
import { planProblem, planStages, type StagePlan } from "./planning.js";
import { advanceJob, endActiveAttempts } from "./stages.js";
import { emptyStats, type JobState, type ShuffleState, type StageState } from "./state.js";
import { abandonTask } from "./tasks.js";
import type { ErrorView, Input, JobStatus } from "./types.js";

type SubmitInput = Extract<Input, { type: "jobSubmitted" }>;

export function submitJob(ctx: Ctx, input: SubmitInput): void {
  const { state } = ctx;
  if (state.jobs.has(input.jobId)) return; // a replayed submission
  const rawConf = { ...state.baseConf, ...input.conf };
  const confIssue = confProblem(rawConf);
  const conf: Conf = confIssue ? state.conf : resolveConf(rawConf, {});
  const planIssue = planProblem(input.plan);
  const problem = planIssue ?? confIssue;
  const stagePlans = problem ? [] : planStages(input.plan);
  const job: JobState = {
    jobId: input.jobId,
    name: input.plan.jobName,
    plan: input.plan,
    bundleDigest: input.bundleDigest,
    rawConf,
    conf,
    traceparent: input.traceparent,
    status: "running",
    submittedAtMs: ctx.now,
    finishedAtMs: 0,
    stages: stagePlans.map((plan) => newStage(plan)),
    resultStageId: stagePlans.length - 1,
    shuffles: newShuffles(input.jobId, input.plan.shuffles.length, stagePlans, input.plan.shuffles),
    activeStages: new Set(),
    liveTasks: new Set(),
    commitAuth: new Map(),
    shuffleAddresses: new Set(),
    stats: emptyStats(),
  };
  state.jobs.set(job.jobId, job);
  spanStart(ctx, jobSpanKey(job.jobId), `job ${job.name}`, {
    "ballast.job_id": job.jobId,
    "ballast.job_name": job.name,
    "ballast.num_stages": job.stages.length,
  }, input.traceparent ? { parentTraceparent: input.traceparent } : {});
  emitEvent(ctx, job.jobId, { type: "jobSubmitted", name: job.name, numStages: job.stages.length });
  markChanged(ctx, job.jobId);
  if (problem) {
    endJob(ctx, job, "failed", { kind: planIssue ? "invalidPlan" : "invalidConf", message: `Job ${job.jobId} cannot run: ${problem}`, stack: "" });
    return;
  }
  state.runningJobs.add(job.jobId);
  advanceJob(ctx, job);
}

function newStage(plan: StagePlan): StageState {
  const isResult = plan.shuffleWrite === undefined;
  return {
    ...plan,
    status: "waiting",
    attempts: [],
    failedAttempts: 0,
    consecutiveFailures: 0,
    failureCauses: [],
    resubmitReason: "",
    everSucceeded: new Uint8Array(plan.numPartitions),
    nextTaskAttempt: new Uint32Array(plan.numPartitions),
    runningTasks: 0,
    results: isResult ? new Array(plan.numPartitions).fill(undefined) : undefined,
    resultsDone: 0,
  };
}

function newShuffles(
  jobId: string,
  count: number,
  stagePlans: StagePlan[],
  dependencies: SubmitInput["plan"]["shuffles"],
): Array<ShuffleState | undefined> {
  const shuffles = new Array<ShuffleState | undefined>(count).fill(undefined);
  for (const stage of stagePlans) {
    if (stage.shuffleWrite === undefined) continue;
    const dependency = dependencies[stage.shuffleWrite]!;
    shuffles[stage.shuffleWrite] = {
      shuffleId: shuffleIdOf(jobId, stage.shuffleWrite),
      shuffleIndex: stage.shuffleWrite,
      mapStageId: stage.stageId,
      numMaps: stage.numPartitions,
      numReducePartitions: dependency.numReducePartitions,
      outputs: new Array(stage.numPartitions).fill(undefined),
      registeredAtMs: new Array<number>(stage.numPartitions).fill(0),
      registered: 0,
    };
  }
  return shuffles;
}

export function succeedJob(ctx: Ctx, job: JobState): void {
  const stage = job.stages[job.resultStageId]!;
  const results = stage.results!;
  job.result = {
    action: job.plan.action,
    partitionRecords: results.map((result) => result?.records ?? new Uint8Array(0)),
    count: results.reduce((sum, result) => sum + (result?.count ?? 0), 0),
    outputUri: job.plan.outputUri,
  };
  endJob(ctx, job, "succeeded");
}

export function abortJob(ctx: Ctx, job: JobState, error: ErrorView): void {
  if (job.status === "running") endJob(ctx, job, "failed", error);
}

export function cancelJob(ctx: Ctx, jobId: string, reason: string): void {
  const job = ctx.state.jobs.get(jobId);
  if (job?.status !== "running") return;
  endJob(ctx, job, "cancelled", { kind: "cancelled", message: `Job ${jobId} cancelled: ${reason}`, stack: "" });
}

function endJob(ctx: Ctx, job: JobState, status: Exclude<JobStatus, "running">, error?: ErrorView): void {
  const { state } = ctx;
  const reason = error?.message ?? "job finished";
  job.status = status;
  job.finishedAtMs = ctx.now;
  job.error = error;
  job.stats.wallTimeMs = ctx.now - job.submittedAtMs;
  endActiveAttempts(ctx, job, reason);
  killLiveTasks(ctx, job, reason);
  job.commitAuth.clear();
  job.resubmitAtMs = undefined;
  state.runningJobs.delete(job.jobId);
  state.pendingResubmits.delete(job.jobId);
  dropProgress(job);

  emitEvent(ctx, job.jobId, error ? { type: "jobEnded", status, error, stats: { ...job.stats } } : { type: "jobEnded", status, stats: { ...job.stats } });
  spanEnd(ctx, jobSpanKey(job.jobId), error?.message);
  const shuffleIds = job.shuffles.flatMap((shuffle) => (shuffle ? [shuffle.shuffleId] : []));
  if (shuffleIds.length > 0) {
    ctx.out.push({ type: "removeShuffles", jobId: job.jobId, shuffleIds, shuffleAddresses: [...job.shuffleAddresses].sort() });
  }
  markChanged(ctx, job.jobId);
}

/** Per-partition progress is only needed while the job runs; views keep the counters. */
function dropProgress(job: JobState): void {
  for (const stage of job.stages) {
    for (const attempt of stage.attempts) {
      attempt.runs.clear();
      attempt.queue = [];
      attempt.queueHead = 0;
      attempt.successDurations = [];
    }
  }
}

/** The job is over: its tasks are killed; their slots stay taken until the executor reports. */
function killLiveTasks(ctx: Ctx, job: JobState, reason: string): void {
  for (const taskId of [...job.liveTasks]) abandonTask(ctx, ctx.state.tasks.get(taskId)!, reason);
}
