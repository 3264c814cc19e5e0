import type { ChannelCredentials, ClientDuplexStream, ClientOptions } from "@grpc/grpc-js";
import {
  SchedulerServiceClient,
  type ExecutorSessionRequest,
  type ExecutorSessionResponse,
} from "../../../../gen/ballast/v1/scheduler.js";
import { describeError } from "../../../../packages/common/src/errors.js";
import { call, createClient } from "../../../../packages/common/src/grpc.js";
import type { Logger } from "../../../../packages/common/src/logging.js";
import { backoffDelay, type BackoffPolicy } from "../core/backoff.js";
import type { TaskLaunch, TaskStatusUpdate } from "../core/task.js";
import { taskLaunchFromWire, taskUpdateToWire, updateSizeEstimate } from "./convert.js";

export interface ExecutorRegistration {
  executorId: string;
  nodeId: string;
  host: string;
  slots: number;
  shuffleAddress: string;
  executorAddress: string;
}

export interface SessionHandlers {
  onLaunch(launch: TaskLaunch): void;
  /** A launch that could not be understood; the task must be reported failed. */
  onInvalidLaunch(taskId: string, message: string): void;
  onKill(taskId: string, reason: string): void;
  runningTaskIds(): string[];
}

export interface SessionOptions {
  schedulerAddress: string;
  registration: ExecutorRegistration;
  handlers: SessionHandlers;
  logger: Logger;
  reconnect?: BackoffPolicy;
  /** A stream that does not acknowledge registration within this time is dropped and redialed. */
  registerTimeoutMs?: number;
  /** Final task updates are kept this long after being sent, to resend them if the stream turns out to have broken. */
  retainFinishedMs?: number;
  /** Upper bound on the bytes of retained final updates (collect results can be large). */
  retainMaxBytes?: number;
}

type SessionStream = ClientDuplexStream<ExecutorSessionRequest, ExecutorSessionResponse>;

interface RetainedUpdate {
  update: TaskStatusUpdate;
  bytes: number;
  /** When it was written to a registered stream; undefined while still undelivered. */
  sentAt?: number;
}

const DEFAULT_HEARTBEAT_MS = 1000;

/**
 * The executor's side of SchedulerService.ExecutorSession: registers, heartbeats
 * from the main thread, forwards launches and kills, and survives scheduler
 * loss by redialing with bounded exponential backoff. Final task updates are
 * resent after every re-registration (the scheduler ignores duplicates), so a
 * result written into a stream that broke, or to a scheduler that crashed
 * before persisting it, is not lost.
 */
export class SchedulerSession {
  private readonly client: SchedulerServiceClient;
  private stream?: SessionStream;
  private heartbeatTimer?: NodeJS.Timeout;
  private registerTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectAttempt = 0;
  private closing = false;
  private readonly retained = new Map<string, RetainedUpdate>();
  connected = false;
  epoch = 0;
  heartbeatIntervalMs = DEFAULT_HEARTBEAT_MS;

  constructor(private readonly options: SessionOptions) {
    this.client = createClient(SchedulerServiceClient, options.schedulerAddress);
  }

  start(): void {
    this.dial();
  }

  /** Sends a task state change now, or after the next registration when disconnected. */
  sendUpdate(update: TaskStatusUpdate): void {
    const final = update.state !== "running";
    if (final) this.retain(update);
    if (!this.connected) return; // running tasks are re-announced by heartbeats; final ones are retained
    this.write({ message: { $case: "taskUpdate", value: taskUpdateToWire(update) } });
    if (final) this.retained.get(update.taskId)!.sentAt = Date.now();
  }

  /** Asks the scheduler whether this task attempt may commit its output. */
  async authorizeCommit(taskId: string, deadlineMs = 10_000): Promise<boolean> {
    const response = await call(this.client.authorizeCommit.bind(this.client), { taskId }, deadlineMs);
    return response.allowed;
  }

  /** Ends the session: pending writes are flushed, then the stream and channel close. */
  async close(): Promise<void> {
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
    this.client.close();
  }

  private dial(): void {
    if (this.closing) return;
    const stream = this.client.executorSession();
    this.stream = stream;
    stream.on("data", (message: ExecutorSessionResponse) => this.onMessage(stream, message));
    stream.on("error", (err) => this.onBroken(stream, describeError(err)));
    stream.on("end", () => this.onBroken(stream, "scheduler ended the session"));
    stream.write({ message: { $case: "register", value: this.options.registration } });
    this.registerTimer = setTimeout(() => {
      this.options.logger.warn({ timeoutMs: this.registerTimeoutMs }, "scheduler did not acknowledge registration");
      stream.cancel();
    }, this.registerTimeoutMs);
  }

  private get registerTimeoutMs(): number {
    return this.options.registerTimeoutMs ?? 10_000;
  }

  private onMessage(stream: SessionStream, message: ExecutorSessionResponse): void {
    if (stream !== this.stream || !message.message) return;
    const { handlers, logger } = this.options;
    switch (message.message.$case) {
      case "registerAck":
        this.onRegistered(message.message.value.epoch, message.message.value.heartbeatIntervalMs);
        break;
      case "launchTask": {
        const wire = message.message.value;
        let launch: TaskLaunch;
        try {
          launch = taskLaunchFromWire(wire);
        } catch (err) {
          logger.error({ taskId: wire.taskId, err: describeError(err) }, "invalid task launch");
          if (wire.taskId) handlers.onInvalidLaunch(wire.taskId, describeError(err));
          return;
        }
        handlers.onLaunch(launch);
        break;
      }
      case "killTask":
        handlers.onKill(message.message.value.taskId, message.message.value.reason);
        break;
    }
  }

  private onRegistered(epoch: number, heartbeatIntervalMs: number): void {
    clearTimeout(this.registerTimer);
    const reconnected = this.reconnectAttempt > 0 || this.retained.size > 0;
    this.connected = true;
    this.epoch = epoch;
    this.heartbeatIntervalMs = heartbeatIntervalMs > 0 ? heartbeatIntervalMs : DEFAULT_HEARTBEAT_MS;
    this.reconnectAttempt = 0;
    this.options.logger.info({ epoch, heartbeatIntervalMs: this.heartbeatIntervalMs, reconnected }, "registered with scheduler");
    this.sendHeartbeat();
    this.resendRetained();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.heartbeatIntervalMs);
  }

  private sendHeartbeat(): void {
    if (!this.connected) return;
    this.write({ message: { $case: "heartbeat", value: { runningTaskIds: this.options.handlers.runningTaskIds() } } });
  }

  private resendRetained(): void {
    this.pruneRetained();
    const now = Date.now();
    for (const entry of this.retained.values()) {
      this.write({ message: { $case: "taskUpdate", value: taskUpdateToWire(entry.update) } });
      entry.sentAt = now;
    }
  }

  private onBroken(stream: SessionStream, reason: string): void {
    if (stream !== this.stream) return; // a stale stream's late events
    this.stream = undefined;
    this.connected = false;
    this.clearTimers();
    stream.cancel();
    if (this.closing) return;
    this.reconnectAttempt++;
    const delayMs = backoffDelay(this.reconnectAttempt, this.options.reconnect ?? { initialMs: 100, maxMs: 5000 });
    this.options.logger.warn({ attempt: this.reconnectAttempt, delayMs, reason }, "scheduler session lost; reconnecting");
    this.reconnectTimer = setTimeout(() => this.dial(), delayMs);
  }

  private write(message: ExecutorSessionRequest): void {
    try {
      this.stream?.write(message);
    } catch (err) {
      this.options.logger.warn({ err: describeError(err) }, "write to scheduler session failed");
    }
  }

  private retain(update: TaskStatusUpdate): void {
    this.retained.delete(update.taskId);
    this.retained.set(update.taskId, { update, bytes: updateSizeEstimate(update) });
    this.pruneRetained();
  }

  /** Drops updates delivered long enough ago, then the oldest ones beyond the byte budget. */
  private pruneRetained(): void {
    const cutoff = Date.now() - (this.options.retainFinishedMs ?? 60_000);
    let bytes = 0;
    for (const [taskId, entry] of this.retained) {
      if (entry.sentAt !== undefined && entry.sentAt < cutoff) this.retained.delete(taskId);
      else bytes += entry.bytes;
    }
    const maxBytes = this.options.retainMaxBytes ?? 256 * 1024 * 1024;
    for (const [taskId, entry] of this.retained) {
      if (bytes <= maxBytes) break;
      this.retained.delete(taskId);
      bytes -= entry.bytes;
      this.options.logger.warn({ taskId }, "dropping a retained task result over the retention budget");
    }
  }

  private clearTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    clearTimeout(this.reconnectTimer);
    this.heartbeatTimer = this.registerTimer = this.reconnectTimer = undefined;
  }
}
