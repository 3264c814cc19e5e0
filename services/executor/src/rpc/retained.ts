import type { Logger } from "@ballast/common/logging";
import type { TaskStatusUpdate } from "@ballast/common/domain/tasks";

interface RetainedUpdate {
  update: TaskStatusUpdate;
  bytes: number;
  /** When it was written to a registered stream; undefined while still undelivered. */
  sentAt?: number;
}

/**
 * Final task updates kept for resending after a reconnect: a stream can break
 * after a write was accepted locally, and a scheduler can crash before
 * persisting what it received. Bounded in time (after delivery) and bytes.
 */
export class RetainedUpdates {
  private readonly entries = new Map<string, RetainedUpdate>();
  private bytes = 0;

  constructor(
    private readonly logger: Logger,
    private readonly retainMs: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(update: TaskStatusUpdate): void {
    this.remove(update.taskId);
    const entry = { update, bytes: updateSizeEstimate(update) };
    this.entries.set(update.taskId, entry);
    this.bytes += entry.bytes;
    this.prune();
  }

  markSent(taskId: string): void {
    const entry = this.entries.get(taskId);
    if (entry) entry.sentAt = Date.now();
  }

  /** Everything still retained, oldest first, after dropping what expired. */
  pending(): TaskStatusUpdate[] {
    this.prune();
    return [...this.entries.values()].map((entry) => entry.update);
  }

  /**
   * Drops updates delivered long enough ago, then the oldest ones beyond the byte budget. Both
   * walk from the oldest entry and stop at the first one to keep, so a busy executor pays for
   * what it drops, not for everything it retains (updates are delivered about in the order added).
   */
  private prune(): void {
    const cutoff = Date.now() - this.retainMs;
    for (const [taskId, entry] of this.entries) {
      if (entry.sentAt === undefined || entry.sentAt >= cutoff) break;
      this.remove(taskId);
    }
    for (const [taskId] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(taskId);
      this.logger.warn({ taskId }, "dropping a retained task result over the retention budget");
    }
  }

  private remove(taskId: string): void {
    const entry = this.entries.get(taskId);
    if (!entry) return;
    this.entries.delete(taskId);
    this.bytes -= entry.bytes;
  }
}

/** Rough wire size of an update, counted against the retention budget. */
function updateSizeEstimate(update: TaskStatusUpdate): number {
  return (update.result?.records?.byteLength ?? 0) + (update.failure?.stack.length ?? 0) + (update.failure?.message.length ?? 0) + 1024;
}
