import type { HistoryEvent } from "../core/types.js";

/** Enough for minutes of a busy scheduler's events (two per task) while history keeps up. */
const MAX_EVENTS = 20_000;

/**
 * The outbox's newest events as this process appended them, so the outbox ships them without
 * reading back and decoding the rows it has just written (that was a third of its cost). Only a
 * cache: it answers only when it holds the very next event, else the store reads its table (after
 * a restart, or while history was down long enough for the oldest to be dropped here).
 */
export class RecentEvents {
  private events: Array<{ seq: number; event: HistoryEvent }> = [];

  /** Events that were just committed, in seq order. */
  add(committed: Array<{ seq: number; event: HistoryEvent }>): void {
    for (const entry of committed) this.events.push(entry);
    if (this.events.length > MAX_EVENTS) this.events = this.events.slice(this.events.length - MAX_EVENTS / 2);
  }

  /** The events after `seq` (at most `limit`), or undefined when the next one is not held here. */
  after(seq: number, limit: number): Array<{ seq: number; event: HistoryEvent }> | undefined {
    const start = this.events.findIndex((entry) => entry.seq > seq);
    if (start < 0 || this.events[start]!.seq !== seq + 1) return undefined;
    const batch = this.events.slice(start, start + limit);
    // Seqs come from one writer, one apart; a gap means rows this process did not write: the table knows.
    return batch.every((entry, index) => entry.seq === seq + 1 + index) ? batch : undefined;
  }

  /** History has the events up to `seq`. */
  published(seq: number): void {
    const keep = this.events.findIndex((entry) => entry.seq > seq);
    this.events = keep < 0 ? [] : this.events.slice(keep);
  }
}
