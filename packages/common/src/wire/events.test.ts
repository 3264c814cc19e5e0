import { describe, expect, it } from "vitest";
import { JobStatus } from "@ballast/gen/common";
import { publishedEvent, type HistoryEvent } from "../domain/events.js";
import { emptyStats } from "../domain/stats.js";
import type { ExecutorView } from "../domain/views.js";
import { eventFromWire, eventToWire } from "./events.js";

const details = { executorId: "e1", nodeId: "n1", host: "h", slots: 2, shuffleAddress: "h:7337", registeredAtMs: 5 };

describe("event conversion", () => {
  it("round-trips a published event", () => {
    const event: HistoryEvent = { jobId: "j", timeMs: 10, type: "jobEnded", status: "failed", error: { message: "m", stack: "s", kind: "k" }, stats: emptyStats() };
    expect(eventFromWire(eventToWire(publishedEvent(3, event)))).toEqual(publishedEvent(3, event));
  });

  it("ships the scheduler's whole executor view, and a newly registered executor's fields for details alone", () => {
    const view: ExecutorView = { ...details, alive: true, runningTasks: 1, lostReason: "", state: "excluded", excludedUntilMs: 9, stateReason: "flaky" };
    const added = (executor: ExecutorView | typeof details) => eventToWire({ seq: 1, timeMs: 0, jobId: "", body: { type: "executorAdded", executor } }).payload;
    expect(added(view)).toMatchObject({ value: { executor: { state: "excluded", runningTasks: 1 } } });
    expect(added(details)).toMatchObject({ value: { executor: { ...details, alive: true, state: "active", runningTasks: 0 } } });
    expect(eventFromWire({ seq: 1, timeMs: 0, jobId: "", payload: added(view) }).body).toEqual({ type: "executorAdded", executor: details });
  });

  it("refuses what the domain cannot hold, naming the event", () => {
    const jobEnded = { status: JobStatus.JOB_STATUS_UNSPECIFIED, error: undefined, stats: undefined };
    expect(() => eventFromWire({ seq: 7, timeMs: 0, jobId: "j", payload: { $case: "jobEnded", value: jobEnded } })).toThrow(/event seq 7 \(jobEnded\): unknown job status: 0/);
    const exclusion = { scope: "rack", id: "r", excluded: true, untilMs: 0, reason: "", stageScoped: false, stageId: 0 };
    expect(() => eventFromWire({ seq: 8, timeMs: 0, jobId: "", payload: { $case: "exclusionChanged", value: exclusion } })).toThrow(/scope must be one of executor, node/);
    expect(() => eventFromWire({ seq: 9, timeMs: 0, jobId: "", payload: undefined })).toThrow(/event seq 9 has no payload/);
  });

  it("reads a JobEnded without stats as zero stats", () => {
    const wire = { seq: 1, timeMs: 0, jobId: "j", payload: { $case: "jobEnded" as const, value: { status: JobStatus.JOB_STATUS_SUCCEEDED, error: undefined, stats: undefined } } };
    expect(eventFromWire(wire).body).toEqual({ type: "jobEnded", status: "succeeded", error: undefined, stats: emptyStats() });
  });
});
