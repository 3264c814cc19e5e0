// Wire <-> domain conversion of the executor session's task messages: LaunchTask (scheduler -> executor) and TaskUpdate (back).
import { TaskState as WireTaskState } from "@ballast/gen/common";
import { FailureKind as WireFailureKind, type LaunchTask, type TaskUpdate } from "@ballast/gen/scheduler";
import { FAILURE_KINDS, TASK_STATES, type ShuffleWriteSpec, type TaskLaunch, type TaskStatusUpdate, type TracedTaskLaunch } from "../domain/tasks.js";
import { InvalidArgumentError } from "../errors.js";
import { asBuffer } from "./bytes.js";
import { enumMapping } from "./enums.js";
import { planFromWire, planToWire } from "./plan.js";

export const taskState = enumMapping(WireTaskState, "TASK_STATE_", TASK_STATES);
export const failureKind = enumMapping(WireFailureKind, "FAILURE_KIND_", FAILURE_KINDS);

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * `jobToken`: the job's staging credentials (role job), minted per launch, never cached.
 * `planCached`: an earlier launch of the job on the same session carried its plan and conf, so
 * this one leaves both out (plan_cached) and the executor takes them from its JobPlanCache.
 */
export function launchToWire(task: TaskLaunch, traceparent: string, epoch: number, { planCached = false, jobToken = "" }: { planCached?: boolean; jobToken?: string } = {}): LaunchTask {
  return {
    taskId: task.taskId,
    jobId: task.jobId,
    stageId: task.stageId,
    stageAttempt: task.stageAttempt,
    partition: task.partition,
    attempt: task.attempt,
    bundleDigest: task.bundleDigest,
    plan: planCached ? undefined : planToWire(task.plan),
    datasetId: task.datasetId,
    shuffleWrite: task.shuffleWrite && { ...task.shuffleWrite, rangeSamples: (task.shuffleWrite.rangeSamples ?? []).map(asBuffer) },
    sampleFor: task.sampleFor && { ...task.sampleFor },
    shuffleReads: task.shuffleReads.map((r) => ({ ...r, locations: r.locations.map((l) => ({ ...l })) })),
    conf: planCached ? {} : task.conf,
    traceparent,
    epoch,
    applicationId: task.applicationId ?? "",
    cachedPartitions: (task.cachedPartitions ?? []).map((location) => ({ ...location })),
    jobToken,
    planCached,
  };
}

/** A job's plan and conf, as every launch of the job shares them. */
export interface JobPlan {
  plan: TaskLaunch["plan"];
  conf: TaskLaunch["conf"];
}

/**
 * The receiving side's copy of each job's plan and conf: filled by launches that carry them,
 * read by launches marked plan_cached. Bounded (oldest first out); a sender must never mark
 * more recent jobs cached than this holds (SentPlans' bound is smaller).
 */
export class JobPlanCache {
  private readonly jobs = new Map<string, JobPlan>();
  constructor(private readonly capacity = 64) {}

  get(jobId: string): JobPlan | undefined {
    return this.jobs.get(jobId);
  }

  remember(jobId: string, job: JobPlan): JobPlan {
    this.jobs.delete(jobId); // re-inserted last: the order matches the sender's
    this.jobs.set(jobId, job);
    if (this.jobs.size > this.capacity) this.jobs.delete(this.jobs.keys().next().value!);
    return job;
  }
}

/** The sender's side: the jobs whose plan went out on this session (bounded below JobPlanCache's default). */
export class SentPlans {
  private readonly jobs = new Set<string>();
  constructor(private readonly capacity = 32) {}

  /** Whether the job's plan already went out; records that it goes out now when not. */
  markSent(jobId: string): boolean {
    if (this.jobs.has(jobId)) return true;
    this.jobs.add(jobId);
    if (this.jobs.size > this.capacity) this.jobs.delete(this.jobs.values().next().value!);
    return false;
  }
}

/**
 * Validates and converts a LaunchTask (its epoch is the session's business); throws
 * InvalidArgumentError naming what is missing. A launch carrying its plan parses it once into
 * `jobs`; one marked plan_cached takes the plan and conf (the same objects) from there.
 */
export function launchFromWire(launch: LaunchTask, jobs: JobPlanCache = new JobPlanCache(1)): TracedTaskLaunch {
  if (!launch.taskId) throw new InvalidArgumentError("LaunchTask without task_id");
  const job = jobPlanOf(launch, jobs);
  if (!SHA256_HEX.test(launch.bundleDigest)) {
    throw new InvalidArgumentError(`LaunchTask ${launch.taskId} has an invalid bundle digest "${launch.bundleDigest}"`);
  }
  return {
    taskId: launch.taskId,
    jobId: launch.jobId,
    stageId: launch.stageId,
    stageAttempt: launch.stageAttempt,
    partition: launch.partition,
    attempt: launch.attempt,
    bundleDigest: launch.bundleDigest,
    plan: job.plan,
    datasetId: launch.datasetId,
    shuffleWrite: launch.shuffleWrite ? shuffleWriteFromWire(launch.shuffleWrite) : undefined,
    sampleFor: launch.sampleFor ? { ...launch.sampleFor } : undefined,
    shuffleReads: launch.shuffleReads.map((r) => ({ ...r, locations: r.locations.map((l) => ({ ...l })) })),
    conf: job.conf,
    traceparent: launch.traceparent,
    ...(launch.applicationId && { applicationId: launch.applicationId }),
    ...(launch.cachedPartitions.length > 0 && { cachedPartitions: launch.cachedPartitions.map((location) => ({ ...location })) }),
    jobToken: launch.jobToken || undefined,
  };
}

function jobPlanOf(launch: LaunchTask, jobs: JobPlanCache): JobPlan {
  if (launch.planCached) {
    const cached = jobs.get(launch.jobId);
    if (!cached) throw new InvalidArgumentError(`LaunchTask ${launch.taskId} refers to the plan of job ${launch.jobId}, which this executor does not hold`);
    return cached;
  }
  if (!launch.plan) throw new InvalidArgumentError(`LaunchTask ${launch.taskId} has no plan`);
  return jobs.remember(launch.jobId, { plan: planFromWire(launch.plan), conf: { ...launch.conf } });
}

function shuffleWriteFromWire({ rangeSamples, ...write }: NonNullable<LaunchTask["shuffleWrite"]>): ShuffleWriteSpec {
  return rangeSamples.length > 0 ? { ...write, rangeSamples: [...rangeSamples] } : write;
}

export function taskUpdateToWire(update: TaskStatusUpdate): TaskUpdate {
  const { failure, result } = update;
  return {
    taskId: update.taskId,
    state: taskState.toWire(update.state),
    mapStatus: update.mapStatus ? { ...update.mapStatus, partitionSizes: [...update.mapStatus.partitionSizes] } : undefined,
    result: result ? { records: asBuffer(result.records), count: result.count } : undefined,
    failure: failure
      ? {
          kind: failureKind.toWire(failure.kind),
          error: { message: failure.message, stack: failure.stack, kind: failure.errorKind },
          fetch: failure.fetch ? { ...failure.fetch } : undefined,
        }
      : undefined,
    metrics: update.metrics ? { ...update.metrics, cachedPartitionsRead: update.metrics.cachedPartitionsRead ?? 0 } : undefined,
    cachedWrites: (update.cachedWrites ?? []).map((write) => ({ ...write })),
  };
}

export function taskUpdateFromWire(update: TaskUpdate): TaskStatusUpdate {
  if (!update.taskId) throw new InvalidArgumentError("task update without task_id");
  const { result, failure } = update;
  return {
    taskId: update.taskId,
    state: taskState.fromWire(update.state),
    mapStatus: update.mapStatus && { ...update.mapStatus, partitionSizes: [...update.mapStatus.partitionSizes] },
    result: result && { records: result.records.length > 0 ? new Uint8Array(result.records) : undefined, count: result.count },
    failure: failure && {
      // A kind this side does not know (a newer executor) counts as the executor's own failure: retried elsewhere.
      kind: failureKind.nameOf(failure.kind) ?? "executorError",
      message: failure.error?.message ?? "",
      stack: failure.error?.stack ?? "",
      errorKind: failure.error?.kind ?? "",
      fetch: failure.fetch && { ...failure.fetch },
    },
    metrics: update.metrics && { ...update.metrics },
    ...(update.cachedWrites.length > 0 && { cachedWrites: update.cachedWrites.map((write) => ({ ...write })) }),
  };
}
