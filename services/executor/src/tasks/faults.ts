/**
 * Test-only fault hook. Inactive unless the executor process is started with
 * the environment variable BALLAST_TEST_FAULTS set to a JSON object:
 *
 *   {
 *     "failStage":   { "stageId": 0, "message": "disk error" },
 *     "delayTaskMs": { "stageId": 1, "ms": 800 },
 *     "nodeIds":     ["node-2"]
 *   }
 *
 * - failStage: every task of that stage run by this executor fails before it
 *   starts, reported as an executor error (FAILURE_KIND_EXECUTOR_ERROR) with
 *   the given message (default "injected fault"). The scheduler counts it like
 *   a task failure: it is retried elsewhere and counts toward exclusion, which
 *   is how the "failing disk on one node" scenario is rehearsed.
 * - delayTaskMs: tasks of that stage sleep this long before running (a kill
 *   aborts the sleep), so tests can land a fault mid-stage deterministically.
 * - nodeIds: the hook applies only on executors of these nodes (absent: all).
 *
 * Stage ids are per job, so the hook applies to that stage of every job.
 * Corrupting a stored block is done by the tests themselves (they flip a byte
 * in the shuffle service's data dir, known from cluster.json). Companion hook:
 * BALLAST_TEST_TASK_EVENTS_FILE (see taskEvents.ts).
 */
import { sleep } from "@ballast/common/backoff";
import type { TaskLaunch } from "@ballast/common/domain/tasks";
import { failure } from "../core/task.js";

export interface FaultSpec {
  failStage?: { stageId: number; message?: string };
  delayTaskMs?: { stageId: number; ms: number };
  nodeIds?: string[];
}

export class FaultSpecError extends Error {}

/** Parses and validates BALLAST_TEST_FAULTS; throws FaultSpecError with what is wrong. */
export function parseFaultSpec(json: string): FaultSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new FaultSpecError(`BALLAST_TEST_FAULTS is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new FaultSpecError("BALLAST_TEST_FAULTS must be a JSON object");
  const known = new Set(["failStage", "delayTaskMs", "nodeIds"]);
  const unknown = Object.keys(raw).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new FaultSpecError(`BALLAST_TEST_FAULTS has unknown keys: ${unknown.join(", ")} (known: ${[...known].join(", ")})`);
  const spec: FaultSpec = {};
  if (raw.failStage !== undefined) {
    const { stageId, message } = objectAt(raw, "failStage");
    if (message !== undefined && typeof message !== "string") throw new FaultSpecError("failStage.message must be a string");
    spec.failStage = { stageId: countAt(stageId, "failStage.stageId"), message };
  }
  if (raw.delayTaskMs !== undefined) {
    const { stageId, ms } = objectAt(raw, "delayTaskMs");
    spec.delayTaskMs = { stageId: countAt(stageId, "delayTaskMs.stageId"), ms: countAt(ms, "delayTaskMs.ms") };
  }
  if (raw.nodeIds !== undefined) {
    if (!Array.isArray(raw.nodeIds) || !raw.nodeIds.every((id) => typeof id === "string")) throw new FaultSpecError("nodeIds must be an array of strings");
    spec.nodeIds = raw.nodeIds;
  }
  return spec;
}

/** Applies a fault spec to the tasks of one executor. */
export class FaultHook {
  constructor(
    readonly spec: FaultSpec,
    private readonly nodeId: string,
  ) {}

  /** False when the spec names other nodes: the hook does nothing here. */
  get active(): boolean {
    return !this.spec.nodeIds || this.spec.nodeIds.includes(this.nodeId);
  }

  /** Runs before a task: delays it (abortable) and/or fails it, as the spec says. */
  async beforeTask(launch: TaskLaunch, signal: AbortSignal): Promise<void> {
    if (!this.active) return;
    const { delayTaskMs, failStage } = this.spec;
    if (delayTaskMs && delayTaskMs.stageId === launch.stageId) await sleep(delayTaskMs.ms, signal);
    if (failStage && failStage.stageId === launch.stageId) {
      throw failure("executorError", failStage.message ?? "injected fault", { errorKind: "injected_fault" });
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectAt(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = raw[key];
  if (!isObject(value)) throw new FaultSpecError(`${key} must be an object`);
  return value;
}

function countAt(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new FaultSpecError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return value;
}
