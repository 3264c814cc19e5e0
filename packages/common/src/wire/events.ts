// Wire <-> domain conversion of events.proto's Event: what the scheduler publishes and history stores and serves.
import { Event as WireEvent } from "@ballast/gen/events";
import { EXCLUSION_SCOPES, type EventBody, type ExclusionScope, type PublishedEvent } from "../domain/events.js";
import { InvalidArgumentError } from "../errors.js";
import { errorFromWire, errorToWire, jobStatus, stageStatus, statsFromWire, statsToWire } from "./jobs.js";
import { executorDetailsFromWire, executorDetailsToWire } from "./resources.js";
import { taskState } from "./tasks.js";

type WirePayload = NonNullable<WireEvent["payload"]>;

export function eventToWire(event: PublishedEvent): WireEvent {
  return { seq: event.seq, timeMs: event.timeMs, jobId: event.jobId, payload: bodyToWire(event.body) };
}

/**
 * Converts a published event. What the domain cannot hold (no payload, an
 * unspecified or unknown status, an unknown exclusion scope) is the
 * publisher's mistake: INVALID_ARGUMENT naming the event.
 */
export function eventFromWire(event: WireEvent): PublishedEvent {
  if (!event.payload) throw new InvalidArgumentError(`event seq ${event.seq} has no payload`);
  try {
    return { seq: event.seq, timeMs: event.timeMs, jobId: event.jobId, body: bodyFromWire(event.payload) };
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`event seq ${event.seq} (${event.payload.$case}): ${err.message}`);
    throw err;
  }
}

function withoutType<B extends EventBody>({ type: _type, ...fields }: B): Omit<B, "type"> {
  return fields;
}

function bodyToWire(body: EventBody): WirePayload {
  switch (body.type) {
    case "jobSubmitted":
      return { $case: "jobSubmitted", value: { ...withoutType(body), traceId: body.traceId ?? "", applicationId: body.applicationId ?? "" } };
    case "jobEnded":
      return { $case: "jobEnded", value: { status: jobStatus.toWire(body.status), error: errorToWire(body.error), stats: statsToWire(body.stats) } };
    case "stageEnded":
      return { $case: "stageEnded", value: { ...withoutType(body), status: stageStatus.toWire(body.status) } };
    case "taskEnded":
      return { $case: "taskEnded", value: { ...withoutType(body), state: taskState.toWire(body.state), error: errorToWire(body.error) } };
    case "executorAdded":
      return { $case: "executorAdded", value: { executor: executorDetailsToWire(body.executor) } };
    default:
      // The remaining payloads have the same fields in both shapes.
      return { $case: body.type, value: withoutType(body) } as WirePayload;
  }
}

function bodyFromWire(payload: WirePayload): EventBody {
  switch (payload.$case) {
    case "jobEnded": {
      const { status, error, stats } = payload.value;
      return { type: "jobEnded", status: jobStatus.fromWire(status), error: errorFromWire(error), stats: statsFromWire(stats) };
    }
    case "stageEnded":
      return { type: "stageEnded", ...payload.value, status: stageStatus.fromWire(payload.value.status) };
    case "taskEnded": {
      const value = payload.value;
      return { type: "taskEnded", ...value, state: taskState.fromWire(value.state), error: errorFromWire(value.error) };
    }
    case "executorAdded":
      return { type: "executorAdded", executor: executorDetailsFromWire(payload.value.executor) };
    case "jobSubmitted": {
      // A job(...) file's job belongs to no application: the field stays absent, as it was sent.
      const { applicationId, ...value } = payload.value;
      return { type: "jobSubmitted", ...value, ...(applicationId && { applicationId }) };
    }
    case "exclusionChanged":
      return { type: "exclusionChanged", ...payload.value, scope: exclusionScopeFromWire(payload.value.scope) };
    default:
      // The remaining payloads have the same fields in both shapes.
      return { type: payload.$case, ...payload.value } as EventBody;
  }
}

/** A plain string on the wire; an unknown scope could not be projected onto anything. */
function exclusionScopeFromWire(scope: string): ExclusionScope {
  if (!(EXCLUSION_SCOPES as readonly string[]).includes(scope)) {
    throw new InvalidArgumentError(`scope must be one of ${EXCLUSION_SCOPES.join(", ")}, got ${JSON.stringify(scope)}`);
  }
  return scope as ExclusionScope;
}
