// An executor's session messages as scheduler core inputs (the wire conversion itself is @ballast/common/wire/tasks).
import type { CachedPartitionRef as WireCachedPartitionRef, ExecutorSessionRequest, TaskUpdate } from "@ballast/gen/scheduler";
import type { CachedPartitionRef, TaskStatusUpdate } from "@ballast/common/domain/tasks";
import { InvalidArgumentError, requireValid } from "@ballast/common/errors";
import { addressProblem, firstProblem, idProblem, integerProblem, LIMITS, nameProblem } from "@ballast/common/limits";
import { taskUpdateFromWire } from "@ballast/common/wire/tasks";
import type { Input, TaskReport } from "../core/types.js";

type SessionMessage = NonNullable<ExecutorSessionRequest["message"]>;

/**
 * Converts an executor's heartbeat or task updates to core inputs, in order (registration is
 * handled by the session). "running" updates are left out: the core ignores them, and logging
 * one input per task start would double the log's work for nothing. A message's final updates
 * are one input.
 */
export function sessionMessagesToInputs(executorId: string, message: SessionMessage): Input[] {
  switch (message.$case) {
    case "heartbeat":
      return [{ type: "heartbeat", executorId, runningTaskIds: [...message.value.runningTaskIds] }];
    case "taskUpdate":
      return finalUpdateInputs(executorId, [message.value]);
    case "taskUpdates":
      return finalUpdateInputs(executorId, message.value.updates);
    case "cachedPartitionsDropped": {
      const partitions = message.value.partitions;
      const problem = cachedPartitionsProblem("cached_partitions_dropped.partitions", partitions);
      if (problem) throw new InvalidArgumentError(problem);
      return partitions.length === 0 ? [] : [{ type: "cachedPartitionsDropped", executorId, partitions: cachedPartitionRefsFromWire(partitions) }];
    }
    case "driverExited": {
      const { applicationId, attempt, exitCode, reason } = message.value;
      requireValid(firstProblem(idProblem("driver_exited.application_id", applicationId), nameProblem("driver_exited.reason", reason, LIMITS.messageLength)));
      return [{ type: "driverExited", executorId, applicationId, attempt, exitCode, reason }];
    }
    case "revokeAnswers": {
      const { revokedTaskIds, startedTaskIds } = message.value;
      const answered = [...revokedTaskIds, ...startedTaskIds];
      if (answered.length > MAX_RUNNING_TASK_IDS) throw new InvalidArgumentError(`revoke_answers names ${answered.length} tasks; at most ${MAX_RUNNING_TASK_IDS} are allowed`);
      requireValid(firstProblem(...answered.map((id) => idProblem("revoke_answers task id", id))));
      return [{ type: "revokeAnswered", executorId, revokedTaskIds: [...revokedTaskIds], startedTaskIds: [...startedTaskIds] }];
    }
    case "register":
      throw new InvalidArgumentError("executor is already registered on this session");
  }
}

/** Most cached partitions one message may name: every partition of a plan's datasets. */
const MAX_CACHED_PARTITIONS = LIMITS.planPartitions;

export function cachedPartitionRefsFromWire(refs: readonly WireCachedPartitionRef[]): CachedPartitionRef[] {
  return refs.map(({ applicationId, cacheKey, partition, bytes }) => ({ applicationId, cacheKey, partition, bytes }));
}

function cachedPartitionsProblem(what: string, refs: readonly WireCachedPartitionRef[]): string | undefined {
  if (refs.length > MAX_CACHED_PARTITIONS) return `${what} names ${refs.length} partitions; at most ${MAX_CACHED_PARTITIONS} are allowed`;
  for (const ref of refs) {
    const problem = firstProblem(
      idProblem(`${what}[].application_id`, ref.applicationId),
      idProblem(`${what}[].cache_key`, ref.cacheKey),
      integerProblem(`${what}[].partition`, ref.partition, 0, LIMITS.partitions - 1),
    );
    if (problem) return problem;
  }
  return undefined;
}

type Registration = Extract<SessionMessage, { $case: "register" }>["value"];

/** Most tasks an executor may name as still running when it registers: far above any slot count. */
const MAX_RUNNING_TASK_IDS = LIMITS.slots * 4;

/**
 * Why a registration cannot be accepted, or undefined: what the scheduler
 * takes here ends up in its state, its logs, every launch's shuffle locations
 * and history's executor table, so it is checked against the shared limits
 * before anything is attached or dispatched.
 */
export function registrationProblem(r: Registration): string | undefined {
  if (r.runningTaskIds.length > MAX_RUNNING_TASK_IDS) return `register names ${r.runningTaskIds.length} running tasks; at most ${MAX_RUNNING_TASK_IDS} are allowed`;
  return firstProblem(
    idProblem("executor_id", r.executorId),
    idProblem("node_id", r.nodeId),
    nameProblem("host", r.host),
    integerProblem("slots", r.slots, 1, LIMITS.slots),
    addressProblem("shuffle_address", r.shuffleAddress),
    ...r.runningTaskIds.map((id) => idProblem("running_task_ids[]", id)),
    cachedPartitionsProblem("cached_partitions", r.cachedPartitions),
    cachedPartitionsProblem("cached_on_disk", r.cachedOnDisk),
    r.runningDrivers.length > MAX_RUNNING_TASK_IDS ? `register names ${r.runningDrivers.length} running drivers; at most ${MAX_RUNNING_TASK_IDS} are allowed` : undefined,
    ...r.runningDrivers.map((id) => idProblem("running_drivers[]", id)),
  );
}

/** An executor's final updates of one message as one input (one log row and one step for them all). */
function finalUpdateInputs(executorId: string, updates: TaskUpdate[]): Input[] {
  const reports: TaskReport[] = [];
  for (const wire of updates) {
    const update = taskUpdateFromWire(wire);
    if (update.state !== "running") reports.push(taskReport(update));
  }
  if (reports.length === 0) return [];
  return [reports.length === 1 ? { type: "taskUpdate", executorId, ...reports[0]! } : { type: "taskUpdates", executorId, updates: reports }];
}

function taskReport(update: TaskStatusUpdate): TaskReport {
  const failure = update.failure;
  return {
    taskId: update.taskId,
    state: update.state,
    mapStatus: update.mapStatus,
    records: update.result?.records,
    count: update.result?.count,
    // The core decides by kind; the executor's errorKind is for its logs and the UI only.
    failure: failure && { kind: failure.kind, message: failure.message, stack: failure.stack, fetch: failure.fetch },
    metrics: update.metrics,
    ...(update.cachedWrites && { cachedWrites: update.cachedWrites }),
  };
}
