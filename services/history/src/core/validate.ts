import type { EventBody, EventType, PublishedEvent } from "@ballast/common/domain/events";
import { idProblem, integerProblem, LIMITS, nameProblem } from "@ballast/common/limits";

/**
 * Checks on what publishers and readers send. Each returns a message naming
 * the problem, or undefined when the input is fine; callers turn messages
 * into INVALID_ARGUMENT / HTTP 400. What the domain types cannot hold at all
 * (a missing status, an unknown exclusion scope) the wire converter
 * (@ballast/common/wire/events) has refused already.
 */

/** Events that describe one job and so need a job id. */
const JOB_SCOPED: ReadonlySet<EventType> = new Set<EventType>([
  "jobSubmitted",
  "jobEnded",
  "stageSubmitted",
  "stageEnded",
  "taskStarted",
  "taskEnded",
  "mapOutputsLost",
  "stageResubmitted",
  "taskResubmitted",
  "cachedDatasets",
]);

/**
 * Ids are chosen by the scheduler, which takes them under the same shared
 * limits (@ballast/common/limits), so whatever it accepted is accepted here.
 */
export const checkId = idProblem;

/** An event's seq keys it (and its dead letter): without a valid one nothing can be stored. */
export function checkSeq(seq: number): string | undefined {
  return Number.isSafeInteger(seq) && seq > 0 ? undefined : `event seq ${seq}: seq must be > 0`;
}

export function checkEvent(event: PublishedEvent): string | undefined {
  const where = `event seq ${event.seq}`;
  const seqProblem = checkSeq(event.seq);
  if (seqProblem) return seqProblem;
  const timeProblem = integerProblem("time_ms", event.timeMs, 0);
  if (timeProblem) return `${where} (${event.body.type}): ${timeProblem}`;
  if (JOB_SCOPED.has(event.body.type)) {
    const problem = checkId("job_id", event.jobId);
    if (problem) return `${where} (${event.body.type}): ${problem}`;
  }
  const problem = checkBody(event.body);
  return problem && `${where} (${event.body.type}): ${problem}`;
}

function checkBody(body: EventBody): string | undefined {
  switch (body.type) {
    case "jobSubmitted":
      return nameProblem("name", body.name);
    case "taskStarted":
    case "taskEnded":
      return checkId("task_id", body.taskId);
    case "executorAdded":
      return checkId("executor.executor_id", body.executor.executorId);
    case "executorRemoved":
      return checkId("executor_id", body.executorId);
    case "exclusionChanged":
      return checkId("id", body.id);
    case "decommissionChanged":
      // Unknown phases are kept (a newer scheduler may add some) but change no state.
      return checkId("node_id", body.nodeId) ?? (body.phase === "" ? "phase is required" : undefined);
    case "shuffleMigrated":
      return checkId("node_id", body.nodeId);
    case "cachedDatasets":
      return cachedDatasetsProblem(body);
    default:
      return undefined;
  }
}

/** What a cachedDatasets event names is stored and shown: ids and names under the shared limits, a bounded list. */
function cachedDatasetsProblem(body: Extract<EventBody, { type: "cachedDatasets" }>): string | undefined {
  if (body.datasets.length > LIMITS.datasets) return `datasets has ${body.datasets.length} entries; at most ${LIMITS.datasets} are allowed`;
  for (const dataset of body.datasets) {
    const problem =
      checkId("datasets[].cache_key", dataset.cacheKey) ??
      nameProblem("datasets[].name", dataset.name, LIMITS.nameLength * 2) ??
      nameProblem("datasets[].level", dataset.level) ??
      (dataset.holders.length > LIMITS.partitions ? `datasets[].holders has ${dataset.holders.length} entries; at most ${LIMITS.partitions} are allowed` : undefined) ??
      dataset.holders.map((holder) => checkId("datasets[].holders[].id", holder.id) ?? nameProblem("datasets[].holders[].kind", holder.kind)).find(Boolean);
    if (problem) return problem;
  }
  return checkId("application_id", body.applicationId);
}
