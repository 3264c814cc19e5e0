/**
 * Internal events: what an entity module raises when a change of its own
 * entity has consequences for another one (a stage completed, a job ended,
 * a task failure counts toward exclusion, ...). They wait in the step's FIFO
 * queue (context.ts) and handlers.ts runs one handler per kind, so no entity
 * module calls another and no cascade runs while a change is half done.
 * Transient: they live only during one step, never in the state.
 */
import type { LiveTask } from "./state.js";
import type { ErrorView, ExecutorDescription, Input, MapStatus, TaskFailure } from "./types.js";

export type InternalEvent =
  /** Start the stages whose parents are complete, or succeed the job once its result stage is. */
  | { kind: "jobProgress"; jobId: string }
  | { kind: "jobAbortRequested"; jobId: string; error: ErrorView }
  /** The job's status is final: its attempts, tasks and shuffles are to be closed. */
  | { kind: "jobEnded"; jobId: string; reason: string }
  | { kind: "stageCompleted"; jobId: string; stageId: number }
  | { kind: "mapOutputProduced"; jobId: string; stageId: number; status: MapStatus }
  | { kind: "resultProduced"; jobId: string; stageId: number; partition: number; taskId: string; records?: Uint8Array; count: number }
  /** A task ended with a fetch failure (it is no longer live). */
  | { kind: "fetchFailed"; jobId: string; task: LiveTask; failure: TaskFailure }
  /** A user or executor error, counted toward exclusion. */
  | { kind: "taskFailureCounted"; jobId: string; stageId: number; stageAttempt: number; partition: number; executorId: string }
  /** A task attempt ended on the node: its cross-job failure score moves. */
  | { kind: "taskAttemptScored"; nodeId: string; failed: boolean }
  /** The executor's heartbeat no longer lists the task. */
  | { kind: "taskVanished"; taskId: string; reason: string }
  | { kind: "executorRegistered"; description: ExecutorDescription }
  | { kind: "executorLost"; executorId: string; reason: string }
  /** A node's shuffle service is gone (or only an address it used to have). */
  | { kind: "nodeLost"; nodeId: string; shuffleAddress: string; reason: string }
  /** A decommission ended: outputs still on the node (if `lostReason`) are unregistered. */
  | { kind: "nodeDecommissioned"; nodeId: string; lostReason: string }
  | { kind: "mapOutputMigrated"; input: Extract<Input, { type: "mapOutputMigrated" }> };

export type InternalEventKind = InternalEvent["kind"];
