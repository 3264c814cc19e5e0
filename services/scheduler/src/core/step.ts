/**
 * The one entry point that changes the state: `step(state, input, now)`.
 * Deterministic: the same state, inputs and `now` values give the same
 * commands, so replaying the persisted inputs rebuilds the state exactly.
 *
 * One step: the input goes to the module that owns what it changes; the
 * internal events it raises are drained (handlers.ts); due timers fire; then
 * the passes that run after every step (decommission drain and migration,
 * speculative copies, placement, then copies of slow tasks) see the settled state.
 */
import { finishApplication, registerApplication } from "./applications.js";
import { onDriverExited, reconcileDrivers, startDriver, stopCancelledDriver, superviseDrivers } from "./drivers.js";
import { dropEvictedMemory, forgetDataset } from "./cache.js";
import { cacheShrank } from "./cachedStages.js";
import { flushChanged, newCtx, raise, type Ctx } from "./context.js";
import { onCommitRequested } from "./commits.js";
import { onDecommissionNode, onMigrationFinished, onRecommissionNode, reconcileDecommissions } from "./decommission.js";
import { awaitReconnect, onHeartbeat, touchExecutor } from "./executors.js";
import { endFailoverSpans, startFailover } from "./failover.js";
import { drain, fireDueTimers } from "./handlers.js";
import { cancelJob, onOutputCommitted, resumeOutputCommits, sendSettledOutputAborts, submitJob } from "./jobs.js";
import { probeVerdictReceived } from "./nodes.js";
import { hasFreeSlot } from "./placement.js";
import { schedule } from "./scheduling.js";
import { refreshCopyTimers, speculateOffDecommissioning, speculateSlowTasks } from "./speculation.js";
import type { SchedulerState } from "./state.js";
import { onRevokeAnswered, takeBackFromUnusable, takeBackOneTask } from "./takeBack.js";
import { onTaskUpdate } from "./taskOutcomes.js";
import type { Command, Input } from "./types.js";

/** Deterministic: same state + inputs + now values => same commands. Mutates state in place. */
export function step(state: SchedulerState, input: Input, now: number): Command[] {
  state.nowMs = now;
  const ctx = newCtx(state, now);
  const tick = input.type === "tick";
  apply(ctx, input);
  drain(ctx);
  fireDueTimers(ctx, tick);
  reconcileDecommissions(ctx);
  drain(ctx);
  fireDueTimers(ctx, tick); // a decommission that just finished may have opened a window with no delay
  speculateOffDecommissioning(ctx);
  superviseDrivers(ctx);
  drain(ctx);
  schedule(ctx);
  speculateSlowTasks(ctx);
  rebalanceQueues(ctx); // last of what places work: what speculation left free is room
  refreshCopyTimers(ctx);
  sendSettledOutputAborts(ctx);
  if (state.failoverSpanKeys.length > 0 && ctx.out.some((command) => command.type === "launchTask")) endFailoverSpans(ctx);
  flushChanged(ctx);
  return ctx.out;
}

/**
 * Queued tasks are asked back from executors that may not start them (decommissioning,
 * excluded). Room left after placement means nothing pending fits there: queued tasks of
 * busier executors are asked back for it, one at a time (each counts as on its way there,
 * narrowing the gap by two, so this ends; the bound only guards against a bug).
 */
function rebalanceQueues(ctx: Ctx): void {
  if (!ctx.state.conf["ballast.scheduler.takeBack.enabled"]) return;
  if (takeBackFromUnusable(ctx)) schedule(ctx);
  for (let moves = 0; moves < MAX_TAKE_BACKS_PER_STEP && hasFreeSlot(ctx.state) && takeBackOneTask(ctx); moves++) schedule(ctx);
}

const MAX_TAKE_BACKS_PER_STEP = 1024;

function apply(ctx: Ctx, input: Input): void {
  switch (input.type) {
    case "jobSubmitted":
      return submitJob(ctx, input);
    case "cancelJob":
      return cancelJob(ctx, input.jobId, input.reason);
    case "applicationRegistered": {
      const application = registerApplication(ctx, input);
      if (application?.detached) startDriver(application);
      return;
    }
    case "driverExited":
      return onDriverExited(ctx, input);
    case "applicationFinished":
      for (const jobId of finishApplication(ctx, input)) cancelJob(ctx, jobId, `application ${input.applicationId} cancelled`);
      if (input.status === "cancelled") stopCancelledDriver(ctx, input.applicationId);
      return;
    case "datasetUnpersisted":
      forgetDataset(ctx, input.applicationId, input.cacheKey);
      return cacheShrank(ctx);
    case "executorRegistered":
      reconcileDrivers(ctx, input.executor);
      return raise(ctx, { kind: "executorRegistered", description: input.executor });
    case "executorLost":
      return raise(ctx, { kind: "executorLost", executorId: input.executorId, reason: input.reason });
    case "heartbeat":
      return onHeartbeat(ctx, input.executorId, input.runningTaskIds);
    case "cachedPartitionsDropped":
      touchExecutor(ctx, input.executorId);
      dropEvictedMemory(ctx.state, input.executorId, input.partitions);
      return cacheShrank(ctx);
    case "taskUpdate":
      touchExecutor(ctx, input.executorId);
      return onTaskUpdate(ctx, input.executorId, input);
    case "taskUpdates":
      touchExecutor(ctx, input.executorId);
      // Each update's internal events settle before the next, as when they were inputs of their own.
      for (const update of input.updates) {
        onTaskUpdate(ctx, input.executorId, update);
        drain(ctx);
      }
      return;
    case "revokeAnswered":
      touchExecutor(ctx, input.executorId);
      return onRevokeAnswered(ctx, input);
    case "commitRequested":
      return onCommitRequested(ctx, input.taskId, input.requestId);
    case "jobOutputCommitted":
      return onOutputCommitted(ctx, input.jobId, input.error);
    case "tick":
      return; // time passed: the due timers fire next
    case "shuffleServiceAnswered":
      return probeVerdictReceived(ctx.state, input.shuffleAddress);
    case "shuffleServiceLost":
      return raise(ctx, { kind: "nodeLost", nodeId: input.nodeId, shuffleAddress: input.shuffleAddress, reason: input.reason });
    case "decommissionNode":
      return onDecommissionNode(ctx, input.nodeId, input.deadlineMs, input.reason);
    case "recommissionNode":
      return onRecommissionNode(ctx, input.nodeId);
    case "mapOutputMigrated":
      return raise(ctx, { kind: "mapOutputMigrated", input });
    case "migrationFinished":
      return onMigrationFinished(ctx, input);
    case "recoveryStarted":
      startFailover(ctx, input);
      resumeOutputCommits(ctx);
      return awaitReconnect(ctx);
  }
}
