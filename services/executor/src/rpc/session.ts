import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { SchedulerServiceClient, ExecutorSessionRequest, ExecutorSessionResponse } from "@ballast/gen/scheduler";
import { describeError, UnavailableError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import type { CachedPartitionRef, TaskStatusUpdate, TracedTaskLaunch } from "@ballast/common/domain/tasks";
import type { Logger } from "@ballast/common/logging";
import { JobPlanCache, launchFromWire, taskUpdateToWire } from "@ballast/common/wire/tasks";
import type { DriverExited, LaunchTask, TaskUpdate } from "@ballast/gen/scheduler";
import { backoffDelay, type BackoffPolicy } from "@ballast/common/backoff";
import { EpochFence } from "../core/fencing.js";
import { recordFenced } from "./fenced.js";
import { SchedulerDirectory } from "@ballast/clients/schedulerDirectory";
import { RetainedUpdates } from "./retained.js";

export interface ExecutorRegistration {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  /** Of `slots`, how many are the queue beyond the worker threads (the scheduler may take those tasks back). */
  queuedSlots: number;
  shuffleAddress: string;
  executorAddress: string;
}

/** Which tasks of a revoke were dropped unstarted, and which run on. */
export interface RevokeAnswer {
  revoked: string[];
  started: string[];
}

export interface SessionHandlers {
  onLaunch(launch: TracedTaskLaunch): void;
  /** A launch that could not be understood; the task must be reported failed. */
  onInvalidLaunch(taskId: string, message: string): void;
  onKill(taskId: string, reason: string): void;
  /** Take-back: drop the tasks still queued (not started). */
  onRevoke(taskIds: string[], reason: string): RevokeAnswer;
  /** The scheduler asks this executor process to exit. */
  onShutdown(reason: string): void;
  /** Every task the executor holds, running or queued. */
  runningTaskIds(): string[];
  /** Cached partitions held in memory, reported on every registration (the scheduler reconciles its registry). */
  cachedPartitions(): CachedPartitionRef[];
  /** Cached partitions its node's shuffle service holds on disk; undefined when it cannot tell. */
  cachedOnDisk(): Promise<CachedPartitionRef[] | undefined>;
  /** unpersist(): free the dataset's partitions held in memory. */
  onFreeCachedDataset(applicationId: string, cacheKey: string): void;
  /** Run a detached application's driver (attempt `attempt`) with the submitter's token. */
  onLaunchDriver(applicationId: string, attempt: number, token: string): void;
  /** Stop the application's driver: the scheduler placed it elsewhere. */
  onStopDriver(applicationId: string, reason: string): void;
  /** Applications whose driver runs here, reported on every registration. */
  runningDrivers(): string[];
}

export interface SessionOptions {
  /** Active and standby schedulers; the session finds and follows the leader. */
  schedulerAddresses: string[];
  registration: ExecutorRegistration;
  handlers: SessionHandlers;
  logger: Logger;
  reconnect?: BackoffPolicy;
  /** Deadline of each GetLeader call. */
  leaderLookupTimeoutMs?: number;
  /** A stream that does not acknowledge registration within this time is dropped and redialed. */
  registerTimeoutMs?: number;
  /** Final task updates are kept this long after being sent, to resend them if the stream turns out to have broken. */
  retainFinishedMs?: number;
  /** Upper bound on the bytes of retained final updates (collect results can be large). */
  retainMaxBytes?: number;
}

type SessionStream = ClientDuplexStream<ExecutorSessionRequest, ExecutorSessionResponse>;

const DEFAULT_HEARTBEAT_MS = 1000;

/**
 * The executor's side of SchedulerService.ExecutorSession: finds the leading
 * scheduler, registers (announcing the tasks it still holds and the highest
 * epoch it has seen), heartbeats from the main thread, forwards launches,
 * kills and shutdowns that pass the epoch fence, and survives scheduler loss
 * or failover by redialing the leader with bounded exponential backoff.
 * Running tasks are untouched while disconnected. Final task updates are
 * resent after every registration (the scheduler ignores duplicates), so a
 * result written into a stream that broke, or to a scheduler that crashed
 * before persisting it, is not lost.
 */
/**
 * Redial backoff: capped at 1s so that after a failover executors find the
 * new leader within about a second of it taking the lease (recovery waits for
 * them), while a long outage costs one cheap GetLeader round per second.
 */
const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 1000 };

export class SchedulerSession {
  private readonly directory: SchedulerDirectory;
  private readonly fence = new EpochFence();
  private readonly retained: RetainedUpdates;
  /** Each job's plan and conf, parsed once from the first launch that carries them. */
  private readonly jobPlans = new JobPlanCache();
  /** Updates of this event-loop turn, sent together (flushUpdates). */
  private pendingUpdates: TaskStatusUpdate[] = [];
  /** Evictions while disconnected: sent after the retained updates, which may still register those partitions. */
  private pendingDrops: CachedPartitionRef[] = [];
  private readonly pendingDriverExits: DriverExited[] = [];
  private flushScheduled = false;
  private stream?: SessionStream;
  private heartbeatTimer?: NodeJS.Timeout;
  private registerTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectAttempt = 0;
  private checkingLeadership = false;
  private closing = false;
  /** The scheduler the current (or last) stream was dialed to. */
  leaderAddress?: string;
  connected = false;
  /** The epoch of the scheduler this session is registered with. */
  epoch = 0;
  heartbeatIntervalMs = DEFAULT_HEARTBEAT_MS;

  constructor(private readonly options: SessionOptions) {
    this.directory = new SchedulerDirectory(options.schedulerAddresses, options.logger);
    this.retained = new RetainedUpdates(options.logger, options.retainFinishedMs ?? 60_000, options.retainMaxBytes ?? 256 * 1024 * 1024);
  }

  start(): void {
    void this.dial();
  }

  /** Cached partitions evicted from memory: the scheduler stops offering them. */
  /** A driver's exit, sent once connected (an exit while disconnected waits for the next registration). */
  sendDriverExited(exit: DriverExited): void {
    if (!this.connected) {
      this.pendingDriverExits.push(exit);
      return;
    }
    this.writeNow({ message: { $case: "driverExited", value: exit } });
  }

  sendCachedPartitionsDropped(partitions: CachedPartitionRef[]): void {
    if (!this.connected) {
      this.pendingDrops.push(...partitions);
      return;
    }
    this.flushUpdates(); // updates that registered these partitions go first
    this.writeNow({ message: { $case: "cachedPartitionsDropped", value: { partitions } } });
  }

  /** The highest scheduler epoch seen on any message. */
  get highestEpoch(): number {
    return this.fence.highest;
  }

  /**
   * Sends a task state change at the end of this event-loop turn, with the others of the turn
   * in one message; or after the next registration when disconnected. A "running" update whose
   * task already finished in the same turn is dropped: the final one says more.
   */
  sendUpdate(update: TaskStatusUpdate): void {
    if (update.state !== "running") this.retained.add(update);
    if (!this.connected) return; // running tasks are re-announced on registration and by heartbeats; final ones are retained
    this.pendingUpdates.push(update);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushUpdates());
    }
  }

  private flushUpdates(): void {
    this.flushScheduled = false;
    const updates = this.pendingUpdates;
    this.pendingUpdates = [];
    if (!this.connected || updates.length === 0) return; // finals stay retained for the next registration
    const finished = new Set<string>();
    for (const u of updates) if (u.state !== "running") finished.add(u.taskId);
    const wire: TaskUpdate[] = [];
    for (const u of updates) if (u.state !== "running" || !finished.has(u.taskId)) wire.push(taskUpdateToWire(u));
    this.writeNow(wire.length === 1 ? { message: { $case: "taskUpdate", value: wire[0]! } } : { message: { $case: "taskUpdates", value: { updates: wire } } });
    for (const taskId of finished) this.retained.markSent(taskId);
  }

  /** Asks the scheduler whether this task attempt may commit its output. */
  async authorizeCommit(taskId: string, deadlineMs = 10_000): Promise<boolean> {
    const client = await this.leaderClient();
    const response = await call(client.authorizeCommit.bind(client), { taskId }, deadlineMs);
    return response.allowed;
  }

  /**
   * A client for the leader: the one this session is registered with, else
   * whichever scheduler the lookup finds. Throws UnavailableError when none.
   */
  async leaderClient(): Promise<SchedulerServiceClient> {
    const address = this.connected ? this.leaderAddress : await this.directory.findLeader(this.lookupTimeoutMs);
    if (!address) throw new UnavailableError(`no scheduler leader among ${this.directory.addresses.join(", ")}`);
    return this.directory.clientFor(address);
  }

  /** Ends the session: pending writes are flushed, then the stream and channels close. */
  async close(): Promise<void> {
    this.flushUpdates(); // the kills of a stopping executor go out before the stream ends
    this.closing = true;
    this.clearTimers();
    const stream = this.stream;
    this.stream = undefined;
    this.connected = false;
    if (stream) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        stream.once("close", () => (clearTimeout(timer), resolve()));
        stream.once("error", () => (clearTimeout(timer), resolve()));
        stream.end();
      });
      stream.cancel();
    }
    this.directory.close();
  }

  private get lookupTimeoutMs(): number {
    return this.options.leaderLookupTimeoutMs ?? 1000;
  }

  private async dial(): Promise<void> {
    if (this.closing) return;
    const address = await this.directory.findLeader(this.lookupTimeoutMs);
    if (this.closing) return;
    if (!address) return this.scheduleReconnect("no scheduler leader found");
    this.leaderAddress = address;
    const cachedOnDisk = await this.options.handlers.cachedOnDisk();
    if (this.closing) return;
    const stream = this.directory.clientFor(address).executorSession();
    this.stream = stream;
    stream.on("data", (message: ExecutorSessionResponse) => this.onMessage(stream, message));
    stream.on("error", (err) => this.onBroken(stream, describeError(err)));
    stream.on("end", () => this.onBroken(stream, "scheduler ended the session"));
    const runningTaskIds = this.options.handlers.runningTaskIds();
    this.options.logger.info({ scheduler: address, runningTasks: runningTaskIds.length, lastEpoch: this.fence.highest }, "registering with scheduler");
    const cache = { cachedPartitions: this.options.handlers.cachedPartitions(), cachedOnDisk: cachedOnDisk ?? [], cachedOnDiskListed: cachedOnDisk !== undefined };
    const runningDrivers = this.options.handlers.runningDrivers();
    stream.write({ message: { $case: "register", value: { ...this.options.registration, runningTaskIds, lastEpoch: this.fence.highest, ...cache, runningDrivers } } });
    this.registerTimer = setTimeout(() => {
      this.options.logger.warn({ timeoutMs: this.registerTimeoutMs, scheduler: address }, "scheduler did not acknowledge registration");
      stream.cancel();
    }, this.registerTimeoutMs);
  }

  private get registerTimeoutMs(): number {
    return this.options.registerTimeoutMs ?? 10_000;
  }

  private onMessage(stream: SessionStream, message: ExecutorSessionResponse): void {
    if (stream !== this.stream || !message.message) return;
    const { handlers } = this.options;
    switch (message.message.$case) {
      case "registerAck":
        this.onRegistered(stream, message.message.value.epoch, message.message.value.heartbeatIntervalMs);
        break;
      case "launchTask":
        this.onLaunch(message.message.value);
        break;
      case "launchTasks":
        for (const wire of message.message.value.tasks) this.onLaunch(wire);
        break;
      case "killTask": {
        const { taskId, reason, epoch } = message.message.value;
        if (this.admit("kill", epoch, { taskId })) handlers.onKill(taskId, reason);
        break;
      }
      case "revokeTasks": {
        const { taskIds, reason, epoch } = message.message.value;
        if (!this.admit("revoke", epoch, { taskIds: taskIds.join(",") })) break;
        const { revoked, started } = handlers.onRevoke(taskIds, reason);
        // After the updates queued before it: a finished task's end reaches the scheduler before its "started".
        this.write({ message: { $case: "revokeAnswers", value: { revokedTaskIds: revoked, startedTaskIds: started } } });
        break;
      }
      case "shutdown": {
        const { reason, epoch } = message.message.value;
        if (this.admit("shutdown", epoch, { reason })) handlers.onShutdown(reason);
        break;
      }
      case "freeCachedDataset": {
        const { applicationId, cacheKey, epoch } = message.message.value;
        if (this.admit("freeCachedDataset", epoch, { applicationId, cacheKey })) handlers.onFreeCachedDataset(applicationId, cacheKey);
        break;
      }
      case "launchDriver": {
        const { applicationId, attempt, token, epoch } = message.message.value;
        if (this.admit("launchDriver", epoch, { applicationId })) handlers.onLaunchDriver(applicationId, attempt, token);
        break;
      }
      case "stopDriver": {
        const { applicationId, reason, epoch } = message.message.value;
        if (this.admit("stopDriver", epoch, { applicationId })) handlers.onStopDriver(applicationId, reason);
        break;
      }
    }
  }

  private onLaunch(wire: LaunchTask): void {
    if (!this.admit("launch", wire.epoch, { taskId: wire.taskId }, wire.traceparent)) return;
    let launch: TracedTaskLaunch;
    try {
      launch = launchFromWire(wire, this.jobPlans);
    } catch (err) {
      this.options.logger.error({ taskId: wire.taskId, err: describeError(err) }, "invalid task launch");
      if (wire.taskId) this.options.handlers.onInvalidLaunch(wire.taskId, describeError(err));
      return;
    }
    this.options.handlers.onLaunch(launch);
  }

  /** Applies the epoch fence to a command, logging and tracing what it drops. */
  private admit(command: string, epoch: number, details: Record<string, string>, traceparent?: string): boolean {
    if (this.fence.admit(epoch)) return true;
    const fenced = { command, epoch, highestEpoch: this.fence.highest, ...details };
    this.options.logger.warn(fenced, "ignoring a command from an older scheduler epoch");
    recordFenced(fenced, traceparent);
    return false;
  }

  private onRegistered(stream: SessionStream, epoch: number, heartbeatIntervalMs: number): void {
    clearTimeout(this.registerTimer);
    if (!this.admit("registerAck", epoch, { scheduler: this.leaderAddress ?? "" })) {
      stream.cancel(); // a deposed leader: look for the current one
      return;
    }
    const reconnected = this.reconnectAttempt > 0 || this.retained.size > 0;
    this.connected = true;
    this.epoch = epoch;
    this.heartbeatIntervalMs = heartbeatIntervalMs > 0 ? heartbeatIntervalMs : DEFAULT_HEARTBEAT_MS;
    this.reconnectAttempt = 0;
    this.options.logger.info({ epoch, scheduler: this.leaderAddress, heartbeatIntervalMs: this.heartbeatIntervalMs, reconnected }, "registered with scheduler");
    this.sendHeartbeat();
    this.resendRetained();
    const drops = this.pendingDrops;
    this.pendingDrops = [];
    if (drops.length > 0) this.sendCachedPartitionsDropped(drops);
    for (const exit of this.pendingDriverExits.splice(0)) this.sendDriverExited(exit);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.heartbeatIntervalMs);
  }

  private sendHeartbeat(): void {
    if (!this.connected) return;
    this.write({ message: { $case: "heartbeat", value: { runningTaskIds: this.options.handlers.runningTaskIds() } } });
    this.checkForNewerLeader();
  }

  /** A paused-then-deposed leader keeps its TCP connections open; do not wait for keepalive to notice. */
  private checkForNewerLeader(): void {
    const stream = this.stream;
    if (this.checkingLeadership || !stream || !this.leaderAddress || this.directory.addresses.length < 2) return;
    this.checkingLeadership = true;
    void this.directory
      .newerLeader(this.leaderAddress, this.fence.highest, Math.max(200, this.heartbeatIntervalMs))
      .then((address) => {
        if (address && stream === this.stream) this.onBroken(stream, `scheduler ${address} leads with a newer epoch`);
      })
      .finally(() => (this.checkingLeadership = false));
  }

  private resendRetained(): void {
    this.pendingUpdates = []; // finals among them are retained, running ones re-announced by registration
    for (const update of this.retained.pending()) {
      this.writeNow({ message: { $case: "taskUpdate", value: taskUpdateToWire(update) } });
      this.retained.markSent(update.taskId);
    }
  }

  private onBroken(stream: SessionStream, reason: string): void {
    if (stream !== this.stream) return; // a stale stream's late events
    this.stream = undefined;
    this.connected = false;
    this.clearTimers();
    stream.cancel();
    this.scheduleReconnect(reason);
  }

  /** A failed attempt (lost stream, standby's UNAVAILABLE, no leader found): redial after a backoff. */
  private scheduleReconnect(reason: string): void {
    if (this.closing) return;
    this.reconnectAttempt++;
    const delayMs = backoffDelay(this.reconnectAttempt, this.options.reconnect ?? RECONNECT_BACKOFF);
    this.options.logger.warn({ attempt: this.reconnectAttempt, delayMs, reason, scheduler: this.leaderAddress }, "scheduler session lost; reconnecting");
    this.reconnectTimer = setTimeout(() => void this.dial(), delayMs);
  }

  /** Sends a message after the updates queued before it, so the scheduler sees them in order. */
  private write(message: ExecutorSessionRequest): void {
    this.flushUpdates();
    this.writeNow(message);
  }

  private writeNow(message: ExecutorSessionRequest): void {
    try {
      this.stream?.write(message);
    } catch (err) {
      this.options.logger.warn({ err: describeError(err) }, "write to scheduler session failed");
    }
  }

  private clearTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    clearTimeout(this.reconnectTimer);
    this.heartbeatTimer = this.registerTimer = this.reconnectTimer = undefined;
  }
}
