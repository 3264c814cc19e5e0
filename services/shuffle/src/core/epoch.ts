import { FailedPreconditionError, InvalidArgumentError } from "@ballast/common/errors";

/**
 * A scheduler epoch as a request carries it. Epochs start at 1 (the first
 * lease), so 0 is a request that names none and is refused: it is no way
 * around the fence. Who may raise the fence at all is the authentication
 * layer's business (only the scheduler's credentials may).
 */
export function validateSchedulerEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new InvalidArgumentError(`scheduler_epoch must be an integer >= 1, got ${epoch}`);
  return epoch;
}

/**
 * Scheduler fencing: after a failover the new scheduler has a higher epoch,
 * and a request from a deposed one (lower epoch) must not delete or move
 * data. `highest` is the highest epoch seen before this request.
 */
export function checkSchedulerEpoch(requested: number, highest: number): void {
  if (requested < highest) throw new FailedPreconditionError(`stale scheduler epoch ${requested} (current ${highest})`);
}
