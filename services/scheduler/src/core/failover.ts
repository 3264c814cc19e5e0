/**
 * A scheduler failover as the core records it: the new epoch, the
 * schedulerFailover history event, and one "scheduler.failover" span per
 * running job, from the old leader's last lease renewal (now - downtime) to
 * the new leader's first launch. The executors' reconnect deadlines are
 * executors.ts'.
 */
import { emitEvent, jobSpanKey, spanEnd, spanStart, type Ctx } from "./context.js";
import { forgetProbeVerdicts } from "./nodes.js";
import type { Input } from "./types.js";

type RecoveryStarted = Extract<Input, { type: "recoveryStarted" }>;

export function startFailover(ctx: Ctx, input: RecoveryStarted): void {
  const { state } = ctx;
  const downtimeMs = input.downtimeMs ?? 0;
  state.epoch = input.epoch;
  forgetProbeVerdicts(state);
  emitEvent(ctx, "", {
    type: "schedulerFailover",
    epoch: input.epoch,
    downtimeMs,
    jobsRecovered: state.runningJobs.size,
    leaderAddress: input.leaderAddress ?? "",
  });
  endFailoverSpans(ctx); // a second failover before any launch: the first one's spans end here
  for (const jobId of state.runningJobs) {
    const key = `failover:${jobId}:${input.epoch}`;
    const attributes = { "ballast.epoch": input.epoch, "ballast.downtime_ms": downtimeMs, "ballast.job_id": jobId };
    spanStart(ctx, key, "scheduler.failover", attributes, { parentKey: jobSpanKey(jobId) }, ctx.now - downtimeMs);
    state.failoverSpanKeys.push(key);
  }
}

/** Called once the step launched a task: the cluster is working again. */
export function endFailoverSpans(ctx: Ctx): void {
  for (const key of ctx.state.failoverSpanKeys) spanEnd(ctx, key);
  ctx.state.failoverSpanKeys = [];
}
