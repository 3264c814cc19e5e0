/**
 * Login tickets already exchanged for a session, remembered until they expire, so a ticket logs
 * in once: a link left in a shell history, a log or a shared screen cannot be replayed. Only
 * verified tickets are recorded, so filling the table takes valid credentials; it is bounded
 * anyway (expired entries are swept, and a table full of live ones refuses further logins rather
 * than forgetting a ticket that could then be replayed). One process's memory: a history replica
 * behind a load balancer would need a shared table.
 */
export type Claim = "first use" | "used before" | "full";

/** Expired entries are swept at most this often (and whenever the table is full). */
const SWEEP_EVERY_MS = 60_000;

export class UsedTickets {
  private readonly expiryById = new Map<string, number>();
  private nextSweepMs = 0;

  constructor(private readonly capacity = 100_000) {}

  /** Records a ticket's use; `id` names the ticket (its MAC), `expiresAtMs` is when it stops being valid anyway. */
  claim(id: string, expiresAtMs: number, nowMs: number): Claim {
    if (nowMs >= this.nextSweepMs || this.expiryById.size >= this.capacity) this.sweep(nowMs);
    if (this.expiryById.has(id)) return "used before";
    if (this.expiryById.size >= this.capacity) return "full";
    this.expiryById.set(id, expiresAtMs);
    return "first use";
  }

  get size(): number {
    return this.expiryById.size;
  }

  private sweep(nowMs: number): void {
    this.nextSweepMs = nowMs + SWEEP_EVERY_MS;
    for (const [id, expiresAtMs] of this.expiryById) if (expiresAtMs <= nowMs) this.expiryById.delete(id);
  }
}
