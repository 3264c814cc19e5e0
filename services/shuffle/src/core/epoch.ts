import { FailedPreconditionError, InvalidArgumentError } from "@ballast/common/errors";

export function validateSchedulerEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new InvalidArgumentError(`scheduler_epoch ${epoch} is not a valid epoch`);
  return epoch;
}

/**
 * Scheduler fencing: after a failover the new scheduler has a higher epoch,
 * and a request from a deposed one (lower, non-zero epoch) must not delete or
 * move data. Epoch 0 means "not fenced" (tools and tests).
 * `highest` is the highest epoch seen before this request.
 */
export function checkSchedulerEpoch(requested: number, highest: number): void {
  if (requested !== 0 && requested < highest) throw new FailedPreconditionError(`stale scheduler epoch ${requested} (current ${highest})`);
}
