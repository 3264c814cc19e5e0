/**
 * The one entry point that changes the state: `step(state, input, now)`.
 * Deterministic: the same state, inputs and `now` values give the same
 * commands, so replaying the persisted inputs rebuilds the state exactly.
 */
import { flushChanged, newCtx } from "./context.js";
import { checkHeartbeats, onExecutorLost, onExecutorRegistered, onHeartbeat } from "./executors.js";
import { cancelJob, submitJob } from "./jobs.js";
import { schedule } from "./scheduling.js";
import { fireDueResubmits } from "./stages.js";
import type { SchedulerState } from "./state.js";
import { onCommitRequested, onTaskUpdate } from "./tasks.js";
import type { Command, Input } from "./types.js";

/** Deterministic: same state + inputs + now values => same commands. Mutates state in place. */
export function step(state: SchedulerState, input: Input, now: number): Command[] {
  state.nowMs = now;
  const ctx = newCtx(state, now);
  switch (input.type) {
    case "jobSubmitted":
      submitJob(ctx, input);
      break;
    case "cancelJob":
      cancelJob(ctx, input.jobId, input.reason);
      break;
    case "executorRegistered":
      onExecutorRegistered(ctx, input.executor);
      break;
    case "executorLost":
      onExecutorLost(ctx, input.executorId, input.reason);
      break;
    case "heartbeat":
      onHeartbeat(ctx, input.executorId, input.runningTaskIds);
      break;
    case "taskUpdate":
      onTaskUpdate(ctx, input);
      break;
    case "commitRequested":
      onCommitRequested(ctx, input.taskId, input.requestId);
      break;
    case "tick":
      checkHeartbeats(ctx);
      break;
  }
  fireDueResubmits(ctx);
  schedule(ctx);
  flushChanged(ctx);
  return ctx.out;
}
