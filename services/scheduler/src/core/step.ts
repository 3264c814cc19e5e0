/**
 * The one entry point that changes the state: `step(state, input, now)`.
 * Deterministic: the same state, inputs and `now` values give the same
 * commands, so replaying the persisted inputs rebuilds the state exactly.
 */
import { flushChanged, newCtx, type Ctx } from "./context.js";
import { checkDecommissions, onDecommissionNode, onMapOutputMigrated, onMigrationFinished, onRecommissionNode } from "./decommission.js";
import { abortUnschedulable, enforceCap, reviewExclusions } from "./exclusion.js";
import { checkHeartbeats, onExecutorLost, onExecutorRegistered, onHeartbeat, onRecoveryStarted } from "./executors.js";
import { cancelJob, submitJob } from "./jobs.js";
import { onShuffleServiceLost } from "./nodes.js";
import { schedule } from "./scheduling.js";
import { fireDueResubmits } from "./stages.js";
import type { SchedulerState } from "./state.js";
import { speculateOffDecommissioning } from "./speculation.js";
import { onCommitRequested, onTaskUpdate } from "./tasks.js";
import type { Command, Input } from "./types.js";

/** Deterministic: same state + inputs + now values => same commands. Mutates state in place. */
export function step(state: SchedulerState, input: Input, now: number): Command[] {
  state.nowMs = now;
  const ctx = newCtx(state, now);
  apply(ctx, input);
  checkDecommissions(ctx);
  fireDueResubmits(ctx);
  speculateOffDecommissioning(ctx);
  schedule(ctx);
  flushChanged(ctx);
  return ctx.out;
}

function apply(ctx: Ctx, input: Input): void {
  switch (input.type) {
    case "jobSubmitted":
      return submitJob(ctx, input);
    case "cancelJob":
      return cancelJob(ctx, input.jobId, input.reason);
    case "executorRegistered":
      onExecutorRegistered(ctx, input.executor);
      return enforceCap(ctx);
    case "executorLost":
      onExecutorLost(ctx, input.executorId, input.reason);
      return enforceCap(ctx);
    case "heartbeat":
      return onHeartbeat(ctx, input.executorId, input.runningTaskIds);
    case "taskUpdate":
      return onTaskUpdate(ctx, input);
    case "commitRequested":
      return onCommitRequested(ctx, input.taskId, input.requestId);
    case "tick":
      checkHeartbeats(ctx);
      reviewExclusions(ctx);
      return abortUnschedulable(ctx);
    case "shuffleServiceLost":
      onShuffleServiceLost(ctx, input.nodeId, input.shuffleAddress, input.reason);
      return enforceCap(ctx);
    case "decommissionNode":
      return onDecommissionNode(ctx, input.nodeId, input.deadlineMs, input.reason);
    case "recommissionNode":
      return onRecommissionNode(ctx, input.nodeId);
    case "mapOutputMigrated":
      return onMapOutputMigrated(ctx, input);
    case "migrationFinished":
      return onMigrationFinished(ctx, input);
    case "recoveryStarted":
      return onRecoveryStarted(ctx, input.epoch);
  }
}
