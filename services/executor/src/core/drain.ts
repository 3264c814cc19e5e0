/**
 * The decommission drain an executor runs on SIGTERM (a spot notice, a pod
 * deletion): ask the scheduler to decommission the node, keep running the
 * tasks it holds (the scheduler sends no new ones), and wait until the
 * scheduler reports the node handed over, or until the wait runs out. No I/O
 * here: the scheduler calls, the clock and the sleep are injected.
 */
import type { ResourceState } from "@ballast/common/domain/states";

/** "unknown": the leader does not list the node, or names a state this executor does not know. */
export type NodeStateName = ResourceState | "unknown";

export interface DrainDeps {
  /** DecommissionNode on the leader; throws when the scheduler cannot be reached or refuses. */
  requestDecommission(): Promise<void>;
  /** The node's state on the leader (ListNodes); throws when unreachable. */
  nodeState(): Promise<NodeStateName>;
  /** Tasks this executor still holds, running or queued. */
  heldTasks(): number;
  now(): number;
  /** Resolves after ms; rejects when the drain is interrupted. */
  sleep(ms: number): Promise<void>;
  /** Progress notes, for the log and the trace. */
  note(event: string, details?: Record<string, unknown>): void;
}

export type DrainOutcome =
  | "decommissioned" // the scheduler reports the node decommissioned and no task is left
  | "lost" // the scheduler already declared the node lost: nothing left to hand over
  | "tasks-finished-scheduler-unreachable" // could not reach the scheduler; held tasks finished
  | "deadline"; // the wait ran out

export interface DrainOptions {
  waitMs: number;
  pollMs: number;
}

export async function drainForDecommission(deps: DrainDeps, options: DrainOptions): Promise<DrainOutcome> {
  const deadline = deps.now() + options.waitMs;
  let requested = false;
  for (;;) {
    let reachable = true;
    if (!requested) {
      try {
        await deps.requestDecommission();
        requested = true;
        deps.note("decommission requested");
      } catch (err) {
        reachable = false;
        deps.note("decommission request failed", { err: String((err as Error)?.message ?? err) });
      }
    }
    if (requested) {
      try {
        const state = await deps.nodeState();
        if (state === "lost") return "lost";
        if (state === "decommissioned" && deps.heldTasks() === 0) return "decommissioned";
      } catch {
        reachable = false;
      }
    }
    if (!reachable && deps.heldTasks() === 0) return "tasks-finished-scheduler-unreachable";
    if (deps.now() >= deadline) return "deadline";
    await deps.sleep(Math.min(options.pollMs, Math.max(0, deadline - deps.now())));
  }
}
