/**
 * Job lifecycle: submission (planning into stages), success, abort, cancel.
 * Ending a job changes only the job and raises jobEnded; its stage attempts
 * and tasks are ended by that event's handler, which then calls closeJob.
 */
import { JOB_OWNER_KEY, resolveConf, type Conf } from "@ballast/common/config";
import { emptyStats } from "@ballast/common/domain/stats";
import { planProblem, shuffleIdOf } from "@ballast/common/plan";
import { emitEvent, jobSpanKey, markChanged, raise, spanEnd, spanStart, type Ctx } from "./context.js";
import { recordActionEnded, recordActionSubmitted } from "./applications.js";
import { cachedDatasetsEvent } from "./cache.js";
import { confProblem } from "./exclusionRules.js";
import { planStages, type StagePlan } from "./planning.js";
import type { JobState, ShuffleState, StageState } from "./state.js";
import { retainEndedJob } from "./retention.js";
import { clearTimer } from "./timers.js";
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
  // The full stage graph, even below cached datasets: their stages are skipped while the cache holds them (cachedStages.ts).
  const stagePlans = problem ? [] : planStages(input.plan);
  const job: JobState = {
    jobId: input.jobId,
    name: input.plan.jobName,
    applicationId: input.applicationId ?? "",
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
    committing: false,
    commitAuth: new Map(),
    shuffleAddresses: new Set(),
    stats: emptyStats(),
  };
  state.jobs.set(job.jobId, job);
  recordActionSubmitted(state, job);
  spanStart(ctx, jobSpanKey(job.jobId), `job ${job.name}`, {
    "ballast.job_id": job.jobId,
    "ballast.job_name": job.name,
    "ballast.num_stages": job.stages.length,
  }, input.traceparent ? { parentTraceparent: input.traceparent } : {});
  emitEvent(ctx, job.jobId, { type: "jobSubmitted", name: job.name, numStages: job.stages.length, ...(job.applicationId && { applicationId: job.applicationId }) });
  markChanged(ctx, job.jobId);
  if (problem) {
    endJob(ctx, job, "failed", { kind: planIssue ? "invalidPlan" : "invalidConf", message: `Job ${job.jobId} cannot run: ${problem}`, stack: "" });
    return;
  }
  state.runningJobs.add(job.jobId);
  raise(ctx, { kind: "jobProgress", jobId: job.jobId });
}

function newStage(plan: StagePlan): StageState {
  const isResult = plan.shuffleWrite === undefined; // result and sample stages keep their outputs here
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
  for (const stage of stagePlans) {
    if (stage.sampleFor !== undefined) shuffles[stage.sampleFor]!.sampleStageId = stage.stageId;
  }
  return shuffles;
}

/**
 * The result stage is complete. A saveAsTextFile job first commits its output
 * job-wide (the shell promotes the committed attempts' parts, then answers
 * with jobOutputCommitted); every other job succeeds at once.
 */
export function succeedJob(ctx: Ctx, job: JobState): void {
  if (job.committing) return; // the commit is under way
  if (job.plan.action !== "saveAsTextFile") return finishSuccess(ctx, job);
  job.committing = true;
  requestOutputCommit(ctx, job);
  markChanged(ctx, job.jobId);
}

/** Sent again after a failover (the shell's commit is idempotent): the previous leader's may never have finished. */
function requestOutputCommit(ctx: Ctx, job: JobState): void {
  const parts = job.stages[job.resultStageId]!.results!.map((result) => result!.taskId);
  ctx.out.push({ type: "commitJobOutput", jobId: job.jobId, outputUri: job.plan.outputUri, parts, ...ownerOf(job) });
}

/** The submitter, for the commands that act on its staging space (none for a job the cluster submitted). */
function ownerOf(job: JobState): { owner?: string } {
  const owner = job.rawConf[JOB_OWNER_KEY];
  return owner ? { owner } : {};
}

/** After a failover: the commits the previous leader started are carried out (again). */
export function resumeOutputCommits(ctx: Ctx): void {
  for (const jobId of ctx.state.runningJobs) {
    const job = ctx.state.jobs.get(jobId)!;
    if (job.committing) requestOutputCommit(ctx, job);
  }
}

export function onOutputCommitted(ctx: Ctx, jobId: string, error: string | undefined): void {
  const job = ctx.state.jobs.get(jobId);
  if (job?.status !== "running" || !job.committing) return; // a duplicate answer (a re-sent commit)
  job.committing = false;
  if (error === undefined) return finishSuccess(ctx, job);
  endJob(ctx, job, "failed", { kind: "outputCommitFailed", message: `Job ${jobId} could not commit its output to ${job.plan.outputUri}: ${error}`, stack: "" });
}

function finishSuccess(ctx: Ctx, job: JobState): void {
  const stage = job.stages[job.resultStageId]!;
  const results = stage.results!;
  // Each task's part is bounded by the executor; the whole answer must fit one JobInfo message too.
  const resultBytes = results.reduce((sum, result) => sum + (result?.records?.byteLength ?? 0), 0);
  const maxBytes = job.conf["ballast.result.maxSize"];
  if (resultBytes > maxBytes) {
    const message = `the job's collected result is ${resultBytes} bytes, over the ${maxBytes}-byte limit (ballast.result.maxSize): use saveAsTextFile, or filter or reduce before collect`;
    return abortJob(ctx, job, { message, stack: "", kind: "resultTooLarge" });
  }
  job.result = {
    action: job.plan.action,
    partitionRecords: results.map((result) => result?.records ?? new Uint8Array(0)),
    count: results.reduce((sum, result) => sum + (result?.count ?? 0), 0),
    outputUri: job.plan.outputUri,
  };
  endJob(ctx, job, "succeeded");
}

/** Only for a running job: the dispatcher drops the requests of jobs that already ended. */
export function abortJob(ctx: Ctx, job: JobState, error: ErrorView): void {
  endJob(ctx, job, "failed", error);
}

export function cancelJob(ctx: Ctx, jobId: string, reason: string): void {
  const job = ctx.state.jobs.get(jobId);
  if (job?.status !== "running") return; // unknown or already over: nothing to cancel
  if (job.committing) return; // its output is being promoted: stopping halfway would leave it neither valid nor gone
  endJob(ctx, job, "cancelled", { kind: "cancelled", message: `Job ${jobId} cancelled: ${reason}`, stack: "" });
}

function endJob(ctx: Ctx, job: JobState, status: Exclude<JobStatus, "running">, error?: ErrorView): void {
  const { state } = ctx;
  job.status = status;
  job.finishedAtMs = ctx.now;
  job.error = error;
  job.stats.wallTimeMs = ctx.now - job.submittedAtMs;
  job.resubmitAtMs = undefined;
  clearTimer(state, "resubmit", job.jobId);
  state.runningJobs.delete(job.jobId);
  raise(ctx, { kind: "jobEnded", jobId: job.jobId, reason: error?.message ?? "job finished" });
}

/** After its attempts and tasks are ended: the job's end is announced and its shuffle data released. */
export function closeJob(ctx: Ctx, job: JobState): void {
  const { status, error } = job;
  const cached = cachedDatasetsEvent(ctx.state, job);
  if (cached) emitEvent(ctx, job.jobId, cached); // before its end: history has it when it shows the job ended
  emitEvent(ctx, job.jobId, error ? { type: "jobEnded", status, error, stats: { ...job.stats } } : { type: "jobEnded", status, stats: { ...job.stats } });
  spanEnd(ctx, jobSpanKey(job.jobId), error?.message);
  const shuffleIds = job.shuffles.flatMap((shuffle) => (shuffle ? [shuffle.shuffleId] : []));
  if (shuffleIds.length > 0) {
    ctx.out.push({ type: "removeShuffles", jobId: job.jobId, shuffleIds, shuffleAddresses: [...job.shuffleAddresses].sort() });
  }
  // Nothing was promoted (that happens only at commit): what the attempts left under _temporary goes.
  if (status !== "succeeded" && job.plan.action === "saveAsTextFile" && job.plan.outputUri) {
    ctx.state.pendingOutputAborts.set(job.jobId, { type: "abortJobOutput", jobId: job.jobId, outputUri: job.plan.outputUri, ...ownerOf(job) });
  }
  markChanged(ctx, job.jobId);
  recordActionEnded(ctx.state, job);
  retainEndedJob(ctx, job.jobId);
}

/**
 * Sends the output aborts of ended jobs none of whose tasks an executor still holds. An attempt
 * authorized to commit just before its job ended names its part after the authorization; it
 * reports only after that, so an abort sent earlier would leave that part behind. After every step.
 */
export function sendSettledOutputAborts(ctx: Ctx): void {
  const { state } = ctx;
  if (state.pendingOutputAborts.size === 0) return;
  const held = new Set<string>();
  for (const task of state.tasks.values()) held.add(task.jobId);
  for (const [jobId, abort] of state.pendingOutputAborts) {
    if (held.has(jobId)) continue;
    state.pendingOutputAborts.delete(jobId);
    ctx.out.push(abort);
  }
}
