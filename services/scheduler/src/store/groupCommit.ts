import { backoffDelay, type BackoffPolicy } from "@ballast/common/backoff";
import { describeError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { traceFailure } from "@ballast/common/telemetry";
import { LeaseLostError, type LogRecord, type SchedulerStore } from "./schedulerStore.js";

const RETRY: BackoffPolicy = { initialMs: 100, maxMs: 5_000 };

interface Entry {
  /** undefined: nothing to log, but its callback keeps its place in the order. */
  record?: LogRecord;
  onDurable: () => void;
}

/**
 * Makes inputs durable in order, many per transaction: while one commit is in
 * flight, new inputs queue and all go in the next one, so a busy scheduler
 * pays one round trip per batch, not per input. Callbacks run in input order,
 * only after their input is durable. A fenced append ends it (the lease is
 * gone); any other failure (database unreachable) is retried with bounded
 * backoff, the same batch again, since the store makes a retried commit a no-op.
 */
export class GroupCommitter {
  private queue: Entry[] = [];
  private flushing = false;
  private scheduled = false;
  /** Fenced or stopped: nothing more is written or acted on. */
  private ended = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: SchedulerStore,
    private readonly epoch: number,
    private readonly logger: Logger,
    private readonly onFenced: (err: LeaseLostError) => void,
  ) {}

  enqueue(record: LogRecord | undefined, onDurable: () => void): void {
    if (this.ended) return;
    // Nothing pending and nothing to log: no reason to wait.
    if (!record && this.queue.length === 0 && !this.flushing) return onDurable();
    this.queue.push({ record, onDurable });
    // setImmediate gathers every input of this event-loop turn into one transaction.
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Resolves once everything queued so far is durable and its callbacks ran (or the log is fenced). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.flushing && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what is queued; an append in flight may still land, but nothing more is acted on. */
  stop(): void {
    this.ended = true;
    this.queue = [];
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    while (this.queue.length > 0 && !this.ended) {
      const batch = this.queue;
      this.queue = [];
      await this.commit(batch.flatMap((e) => (e.record ? [e.record] : [])));
      if (this.ended) break;
      for (const entry of batch) entry.onDurable();
    }
    this.flushing = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async commit(records: LogRecord[]): Promise<void> {
    for (let retry = 1; ; retry++) {
      try {
        return await this.store.append(records, this.epoch);
      } catch (err) {
        if (err instanceof LeaseLostError) {
          this.stop();
          return this.onFenced(err);
        }
        const delayMs = backoffDelay(retry, RETRY);
        this.logger.warn({ err: describeError(err), retry, retryInMs: delayMs, inputs: records.length }, "could not make inputs durable; retrying (nothing is acted on until they are)");
        traceFailure("scheduler.store.appendFailed", err, { "ballast.retry": retry, "ballast.retry_in_ms": delayMs, "ballast.inputs": records.length });
        await new Promise((r) => setTimeout(r, delayMs));
        if (this.ended) return;
      }
    }
  }
}
