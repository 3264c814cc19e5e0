import { randomUUID } from "node:crypto";
import type { Logger } from "@ballast/common/logging";
import type { LeaseRecord, LeaseStore } from "./store/schedulerStore.js";

/**
 * Scheduler leadership through a lease in the shared store. The holder
 * renews every third of the timeout; a standby polls and takes over once the
 * lease expires, with the next epoch. A leader that cannot renew in time
 * stops acting at once (it treats its lease as gone at expiry, before anyone
 * else can take it) and steps down.
 */
export class Leadership {
  readonly holder = randomUUID();
  private lease: LeaseRecord | undefined;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: LeaseStore,
    readonly address: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly onLost: (reason: string) => void,
  ) {}

  get epoch(): number {
    return this.lease?.epoch ?? 0;
  }

  /** True while we hold an unexpired lease. */
  isLeader(now = Date.now()): boolean {
    return this.lease !== undefined && now < this.lease.expiresAtMs;
  }

  /** The current leader's address as the store knows it ("" when none). */
  leaderAddress(): string {
    const current = this.store.current();
    return current && current.expiresAtMs > Date.now() ? current.address : "";
  }

  /** Waits (polling) until this scheduler holds the lease; returns the lease it replaced, if any. */
  async acquire(signal: AbortSignal): Promise<LeaseRecord | undefined> {
    let announced = false;
    for (;;) {
      signal.throwIfAborted();
      const taken = this.store.tryAcquire(this.holder, this.address, Date.now(), this.timeoutMs);
      if (taken) {
        this.lease = taken.lease;
        this.renewTimer = setInterval(() => this.renew(), Math.max(50, Math.floor(this.timeoutMs / 3)));
        this.logger.info({ epoch: taken.lease.epoch }, "took the scheduler lease");
        return taken.previous;
      }
      if (!announced) {
        this.logger.info({ leader: this.leaderAddress() }, "standing by: another scheduler holds the lease");
        announced = true;
      }
      await new Promise((r) => setTimeout(r, Math.max(50, Math.floor(this.timeoutMs / 5))));
    }
  }

  private renew(): void {
    const lease = this.lease;
    if (!lease) return;
    const now = Date.now();
    // Paused past expiry (SIGSTOP, GC): a standby may already lead; never act on a stale lease.
    if (now >= lease.expiresAtMs || !this.store.renew(this.holder, lease.epoch, now, this.timeoutMs)) {
      return this.lose(now >= lease.expiresAtMs ? "the lease expired before it could be renewed" : "another scheduler took the lease");
    }
    this.lease = { ...lease, expiresAtMs: now + this.timeoutMs, renewedAtMs: now };
  }

  lose(reason: string): void {
    if (!this.lease) return;
    clearInterval(this.renewTimer);
    this.logger.warn({ epoch: this.lease.epoch, reason }, "lost leadership; stepping down");
    this.lease = undefined;
    this.onLost(reason);
  }

  release(): void {
    clearInterval(this.renewTimer);
    if (this.lease) this.store.release(this.holder, this.lease.epoch);
    this.lease = undefined;
  }
}
