import { HistoryServiceClient } from "@ballast/gen/history";
import type { Event as WireEvent } from "@ballast/gen/events";
import { status } from "@grpc/grpc-js";
import { describeError, isServiceError } from "@ballast/common/errors";
import { call, createClient } from "@ballast/common/grpc";
import { publishedEvent } from "@ballast/common/domain/events";
import type { Logger } from "@ballast/common/logging";
import { eventToWire } from "@ballast/common/wire/events";
import type { SchedulerStore } from "../store/schedulerStore.js";

const BATCH = 500;
const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;
/**
 * New events wait this long to be shipped together: a busy scheduler (two
 * events per task) then makes a few large PublishEvents calls instead of
 * many small ones, which were a tenth of its CPU at 20 ms.
 */
const COALESCE_MS = 100;

/**
 * Ships the outbox of history events in seq order, at least once: an event
 * leaves the outbox only when history acknowledges it, and history dedupes by
 * (application, seq). While history is down, events wait and are resent.
 */
export class HistoryOutbox {
  private readonly client: InstanceType<typeof HistoryServiceClient>;
  private running = false;
  private again = false;
  private backoffMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The store's published_seq as this outbox last read or wrote it (re-read after an error). */
  private published: number | undefined;
  /** Events history refused outright, skipped after logging. */
  skipped = 0;

  constructor(
    private readonly store: SchedulerStore,
    address: string,
    private readonly logger: Logger,
  ) {
    this.client = createClient(HistoryServiceClient, address);
  }

  /** New events exist: publish soon (coalesced). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => void this.drain(), this.backoffMs || COALESCE_MS);
  }

  private async drain(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    try {
      for (;;) {
        this.published ??= await this.store.publishedSeq();
        const batch = await this.store.eventsAfter(this.published, BATCH);
        if (batch.length === 0) break;
        const events = batch.map(({ seq, event }) => eventToWire(publishedEvent(seq, event)));
        const ackedSeq = await this.publish(events);
        const published = Math.min(ackedSeq, batch[batch.length - 1]!.seq);
        await this.store.markPublished(published);
        this.published = Math.max(this.published, published);
        this.backoffMs = 0;
      }
    } catch (err) {
      this.published = undefined;
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.backoffMs * 2)) * (0.5 + Math.random() / 2);
      this.logger.warn({ err: describeError(err), retryInMs: Math.round(this.backoffMs) }, "history or the store unreachable; events kept in the outbox");
      this.again = true;
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      this.kick();
    }
  }

  /**
   * Publishes a batch; returns the seq history acknowledged. History keeps
   * events it cannot store as dead letters, so a refusal of the whole batch
   * (one that does not even decode) is rare: the events then go one by one,
   * and one refused alone is logged, counted and skipped, never resent forever.
   * Only a refusal (INVALID_ARGUMENT) is a verdict on the events: any other
   * failure (history's own store unreachable answers INTERNAL) is kept and resent.
   */
  private async publish(events: WireEvent[]): Promise<number> {
    try {
      return (await this.send(events)).ackedSeq;
    } catch (err) {
      if (!isRefusal(err)) throw err;
    }
    for (const event of events) {
      try {
        await this.send([event]);
      } catch (err) {
        if (!isRefusal(err)) throw err;
        this.skipped++;
        this.logger.error({ seq: event.seq, type: event.payload?.$case, err: describeError(err), skipped: this.skipped }, "history refused an event; it is skipped so the events behind it flow");
      }
    }
    return events[events.length - 1]!.seq;
  }

  private send(events: WireEvent[]) {
    return call(this.client.publishEvents.bind(this.client), { applicationId: this.store.applicationId, events }, 10_000);
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client.close();
  }
}

/** History refused the events themselves, not failed to take them. */
const isRefusal = (err: unknown): boolean => isServiceError(err) && err.code === status.INVALID_ARGUMENT;
