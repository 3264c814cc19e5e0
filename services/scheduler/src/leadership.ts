import { randomUUID } from "node:crypto";
import { backoffDelay, sleep, withDeadline, type BackoffPolicy } from "@ballast/common/backoff";
import { describeError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { traceFailure } from "@ballast/common/telemetry";
import type { LeaseRecord, LeaseStore } from "./store/schedulerStore.js";

const UNREACHABLE_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 5_000 };
/**
 * We act for this share of the timeout after a renewal was *sent*: the
 * database set the expiry later than that, by its own clock, so the margin
 * only has to cover clock-rate drift and the time a launch takes to leave.
 */
const ACT_FOR = 0.9;

/**
 * Scheduler leadership through a lease in the shared store. The holder
 * renews every third of the timeout; a standby polls and takes over once the
 * database judges the lease expired, with the next epoch. Expiry is never
 * judged by comparing clocks: this process only measures, on its own
 * monotonic clock, how long ago it sent the last successful renewal, and
 * stops acting once that is near the timeout. When the database answers
 * again, a renewal that succeeds (nobody took over) resumes work; one that
 * fails means another scheduler leads, and we step down.
 *
 * Every store call has a deadline here, whatever the store's own: a call to a
 * database behind a partition may never answer, and a renewal that hangs must
 * neither keep the next one from being sent nor go unlogged.
 */
export class Leadership {
  readonly holder = randomUUID();
  private lease: LeaseRecord | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  /** performance.now() before which the database cannot have expired our lease. */
  private actUntil = 0;
  private renewing = false;
  private lapsed = false;
  private knownLeader = "";

  constructor(
    private readonly store: LeaseStore,
    readonly address: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly onLost: (reason: string) => void,
    /** The lease is surely ours again after a lapse: held work may go on. */
    private readonly onRenewed: () => void = () => undefined,
  ) {}

  get epoch(): number {
    return this.lease?.epoch ?? 0;
  }

  /** True while we hold a lease the database cannot have expired yet. */
  isLeader(): boolean {
    return this.lease !== undefined && performance.now() < this.actUntil;
  }

  /** The leader's address as last seen in the store ("" when none). */
  leaderAddress(): string {
    return this.lease ? this.address : this.knownLeader;
  }

  /** Waits (polling, and retrying while the database is unreachable) until this scheduler holds the lease. */
  async acquire(signal: AbortSignal): Promise<{ previous?: LeaseRecord; downtimeMs: number }> {
    let announced = false;
    for (let failures = 0; ; ) {
      signal.throwIfAborted();
      const sentAt = performance.now();
      let taken;
      try {
        taken = await withDeadline(this.store.tryAcquire(this.holder, this.address, this.timeoutMs), this.timeoutMs, "taking the lease");
        failures = 0;
      } catch (err) {
        const retryInMs = backoffDelay(++failures, UNREACHABLE_RETRY);
        this.logger.warn({ err: describeError(err), retryInMs }, "lease store unreachable; retrying");
        traceFailure("scheduler.lease.acquireFailed", err, { "ballast.retry_in_ms": retryInMs });
        await sleep(retryInMs, signal);
        continue;
      }
      if (taken.acquired) {
        this.lease = taken.lease;
        this.actUntil = sentAt + this.timeoutMs * ACT_FOR;
        this.renewTimer = setInterval(() => void this.renew(), this.renewIntervalMs());
        this.logger.info({ epoch: taken.lease.epoch }, "took the scheduler lease");
        // Both readings are the database's clock.
        const downtimeMs = taken.previous ? Math.max(0, taken.databaseNowMs - taken.previous.renewedAtMs) : 0;
        return { previous: taken.previous, downtimeMs };
      }
      this.knownLeader = taken.holder.address;
      if (!announced) {
        this.logger.info({ leader: this.knownLeader }, "standing by: another scheduler holds the lease");
        announced = true;
      }
      await sleep(Math.max(50, Math.floor(this.timeoutMs / 5)), signal);
    }
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.renewing) return;
    this.renewing = true;
    const sentAt = performance.now();
    try {
      // The next renewal is due an interval after this one was sent: this one must not be in its way.
      const deadlineMs = Math.floor(this.renewIntervalMs() * 0.8);
      const renewed = await withDeadline(this.store.renew(this.holder, lease.epoch, this.timeoutMs), deadlineMs, "renewing the lease");
      if (!renewed) return this.lose("another scheduler took the lease");
      const wasLapsed = this.lapsed || !this.isLeader();
      this.actUntil = sentAt + this.timeoutMs * ACT_FOR;
      if (wasLapsed) {
        this.lapsed = false;
        this.logger.info({ epoch: lease.epoch }, "renewed the lease after a lapse; acting again");
        this.onRenewed();
      }
    } catch (err) {
      traceFailure("scheduler.lease.renewFailed", err, { "ballast.epoch": lease.epoch, "ballast.acting": this.isLeader() });
      // Paused (SIGSTOP, GC) or cut off from the database: never act on a lease that may have expired.
      if (!this.isLeader() && !this.lapsed) {
        this.lapsed = true;
        this.logger.warn({ epoch: lease.epoch, err: describeError(err) }, "could not renew the lease in time; no launches or commit grants until it is renewed");
      } else {
        this.logger.warn({ epoch: lease.epoch, err: describeError(err) }, "could not renew the lease; retrying");
      }
    } finally {
      this.renewing = false;
    }
  }

  private renewIntervalMs(): number {
    return Math.max(50, Math.floor(this.timeoutMs / 3));
  }

  lose(reason: string): void {
    if (!this.lease) return;
    clearInterval(this.renewTimer);
    this.logger.warn({ epoch: this.lease.epoch, reason }, "lost leadership; stepping down");
    this.lease = undefined;
    this.onLost(reason);
  }

  async release(): Promise<void> {
    clearInterval(this.renewTimer);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.store.release(this.holder, lease.epoch).catch(() => undefined);
  }
}
