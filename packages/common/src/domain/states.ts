/**
 * The states of jobs, stages, executors and nodes, and the one rule that
 * says which state an executor or node is in when several claims hold.
 */

export const JOB_STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const STAGE_STATUSES = ["waiting", "running", "succeeded", "failed"] as const;
export type StageStatus = (typeof STAGE_STATUSES)[number];

/** What an executor or node is, as the scheduler's views and history's summaries say it. */
export const RESOURCE_STATES = ["active", "excluded", "decommissioning", "decommissioned", "lost"] as const;
export type ResourceState = (typeof RESOURCE_STATES)[number];

/** A decommission in force: still draining, or finished (gone with it). */
export type DecommissionState = Extract<ResourceState, "decommissioning" | "decommissioned">;

/**
 * What holds for one executor or node, each with its reason. Callers gather
 * them from their own facts (the scheduler from its state, history from its
 * projections); resolveResourceState ranks them.
 */
export interface StateClaims {
  /** Why it is gone, when no decommission explains its going. */
  lost?: string;
  decommission?: { state: DecommissionState; reason: string };
  /** Why it is excluded, when an exclusion is in force. */
  excluded?: string;
  /** What to say when nothing else holds ("" by default), e.g. that it has yet to reconnect. */
  activeReason?: string;
}

export interface StateWithReason {
  state: ResourceState;
  reason: string;
}

/**
 * The precedence rule, strongest first: lost > decommissioning (or
 * decommissioned) > excluded > active. A lost resource is gone whatever was
 * asked of it; a decommission outranks an exclusion because the resource is
 * leaving anyway.
 */
export function resolveResourceState(claims: StateClaims): StateWithReason {
  if (claims.lost !== undefined) return { state: "lost", reason: claims.lost };
  if (claims.decommission) return { state: claims.decommission.state, reason: claims.decommission.reason };
  if (claims.excluded !== undefined) return { state: "excluded", reason: claims.excluded };
  return { state: "active", reason: claims.activeReason ?? "" };
}
