/**
 * Epoch fencing: every scheduler message carries the epoch of the leader that
 * sent it. The executor remembers the highest epoch it has seen and ignores
 * commands from older epochs, so a paused-then-resumed old leader cannot
 * launch, kill or shut down anything. Epoch 0 means "not stamped" (a scheduler
 * without leader election) and is always admitted.
 */
export class EpochFence {
  private highestSeen: number;

  constructor(initial = 0) {
    this.highestSeen = initial;
  }

  /** The highest epoch seen so far (sent as last_epoch on registration). */
  get highest(): number {
    return this.highestSeen;
  }

  /** True when a message stamped with `epoch` may be acted on; raises the high-water mark. */
  admit(epoch: number): boolean {
    if (epoch !== 0 && epoch < this.highestSeen) return false;
    this.highestSeen = Math.max(this.highestSeen, epoch);
    return true;
  }
}
