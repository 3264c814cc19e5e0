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

  constructor(
    private readonly logger: Logger,
    private readonly retainMs: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(update: TaskStatusUpdate): void {
    this.entries.delete(update.taskId);
    this.entries.set(update.taskId, { update, bytes: updateSizeEstimate(update) });
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

  /** Drops updates delivered long enough ago, then the oldest ones beyond the byte budget. */
  private prune(): void {
    const cutoff = Date.now() - this.retainMs;
    let bytes = 0;
    for (const [taskId, entry] of this.entries) {
      if (entry.sentAt !== undefined && entry.sentAt < cutoff) this.entries.delete(taskId);
      else bytes += entry.bytes;
    }
    for (const [taskId, entry] of this.entries) {
      if (bytes <= this.maxBytes) break;
      this.entries.delete(taskId);
      bytes -= entry.bytes;
      this.logger.warn({ taskId }, "dropping a retained task result over the retention budget");
    }
  }
}

/** Rough wire size of an update, counted against the retention budget. */
function updateSizeEstimate(update: TaskStatusUpdate): number {
  return (update.result?.records?.byteLength ?? 0) + (update.failure?.stack.length ?? 0) + (update.failure?.message.length ?? 0) + 1024;
}
