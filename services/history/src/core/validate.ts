import type { EventBody, EventType, PublishedEvent } from "@ballast/common/domain/events";

/**
 * Checks on what publishers and readers send. Each returns a message naming
 * the problem, or undefined when the input is fine; callers turn messages
 * into INVALID_ARGUMENT / HTTP 400. What the domain types cannot hold at all
 * (a missing status, an unknown exclusion scope) the wire converter
 * (@ballast/common/wire/events) has refused already.
 */

const MAX_ID_LENGTH = 200;

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
]);

/**
 * Ids are chosen by the scheduler; only what would break storage, URLs or log
 * lines is refused (a publisher whose batch is refused cannot make progress).
 */
export function checkId(what: string, id: string): string | undefined {
  if (id === "") return `${what} is required`;
  if (id.length > MAX_ID_LENGTH) return `${what} is longer than ${MAX_ID_LENGTH} characters`;
  if (/\p{Cc}/u.test(id)) return `${what} ${JSON.stringify(id)} contains a control character`;
  return undefined;
}

export function checkEvent(event: PublishedEvent): string | undefined {
  const where = `event seq ${event.seq}`;
  if (!Number.isSafeInteger(event.seq) || event.seq <= 0) return `${where}: seq must be > 0`;
  if (JOB_SCOPED.has(event.body.type)) {
    const problem = checkId("job_id", event.jobId);
    if (problem) return `${where} (${event.body.type}): ${problem}`;
  }
  const problem = checkBody(event.body);
  return problem && `${where} (${event.body.type}): ${problem}`;
}

function checkBody(body: EventBody): string | undefined {
  switch (body.type) {
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
    default:
      return undefined;
  }
}

export function checkEvents(events: PublishedEvent[]): string | undefined {
  for (const event of events) {
    const problem = checkEvent(event);
    if (problem) return problem;
  }
  return undefined;
}
