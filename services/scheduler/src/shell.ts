import { context, trace, SpanStatusCode, type Span } from "@opentelemetry/api";
import type { Logger } from "../../../packages/common/src/logging.js";
import { contextFromTraceparent, traceparentOf, tracer } from "../../../packages/common/src/telemetry.js";
import { createState, executorViews, jobView, listJobs, step } from "./core/index.js";
import type { Command, ExecutorView, HistoryEvent, Input, JobView, TaskLaunch } from "./core/types.js";
import type { SchedulerStore } from "./store/schedulerStore.js";

type SchedulerState = ReturnType<typeof createState>;

/** What the shell needs from the gRPC layer to reach an executor. */
export interface ExecutorChannel {
  launch(task: TaskLaunch, traceparent: string): void;
  kill(taskId: string, reason: string): void;
}

export interface ShellEffects {
  /** Called for removeShuffles; best effort, outside the state machine. */
  removeShuffles(shuffleIds: string[], shuffleAddresses: string[]): void;
  /** New events are in the outbox. */
  eventsAppended(): void;
}

const WATCH_COALESCE_MS = 100;

/**
 * The imperative shell around the scheduler core: persists every input
 * before acting on it, runs the state machine, and carries out its commands
 * (task launches on executor streams, commit decisions, history events,
 * spans, watcher notifications).
 */
export class SchedulerShell {
  private readonly state: SchedulerState;
  private readonly channels = new Map<string, ExecutorChannel>();
  private readonly watchers = new Map<string, Set<(job: JobView) => void>>();
  private readonly pendingWatch = new Map<string, NodeJS.Timeout>();
  private readonly commitWaiters = new Map<string, (allowed: boolean) => void>();
  private readonly spans = new Map<string, Span>();

  constructor(
    private readonly store: SchedulerStore,
    private readonly logger: Logger,
    private readonly effects: ShellEffects,
    baseConf: Record<string, string> = {},
  ) {
    this.state = createState(baseConf);
    this.replay();
  }

  /** Rebuilds the state from the persisted inputs; their commands were carried out before the crash. */
  private replay(): void {
    const inputs = this.store.loadInputs();
    for (const { input, now } of inputs) step(this.state, input, now);
    if (inputs.length > 0) this.logger.info({ inputs: inputs.length, epoch: this.store.epoch }, "scheduler state recovered from the event log");
  }

  dispatch(input: Input, now = Date.now()): void {
    if (input.type !== "tick" && input.type !== "heartbeat") this.store.appendInput(input, now);
    const commands = step(this.state, input, now);
    for (const command of commands) this.execute(command);
  }

  attachExecutor(executorId: string, channel: ExecutorChannel): void {
    this.channels.set(executorId, channel);
  }

  /** Forgets the channel if it is still the current one (a re-registration may have replaced it). */
  detachExecutor(executorId: string, channel: ExecutorChannel): boolean {
    if (this.channels.get(executorId) !== channel) return false;
    this.channels.delete(executorId);
    return true;
  }

  requestCommit(taskId: string, requestId: string): Promise<boolean> {
    return new Promise((resolve) => {
      this.commitWaiters.set(requestId, resolve);
      this.dispatch({ type: "commitRequested", taskId, requestId });
    });
  }

  job(jobId: string): JobView | undefined {
    return jobView(this.state, jobId);
  }

  jobs(): JobView[] {
    return listJobs(this.state);
  }

  executors(): ExecutorView[] {
    return executorViews(this.state);
  }

  /** Calls `listener` with the job's view on every change; returns the unsubscribe function. */
  watch(jobId: string, listener: (job: JobView) => void): () => void {
    let set = this.watchers.get(jobId);
    if (!set) this.watchers.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.watchers.delete(jobId);
    };
  }

  private execute(command: Command): void {
    switch (command.type) {
      case "launchTask":
        return this.withChannel(command.executorId, (ch) => ch.launch(command.task, this.traceparentFor(`task:${command.task.taskId}`)));
      case "killTask":
        return this.withChannel(command.executorId, (ch) => ch.kill(command.taskId, command.reason));
      case "commitDecision": {
        const waiter = this.commitWaiters.get(command.requestId);
        this.commitWaiters.delete(command.requestId);
        return waiter?.(command.allowed);
      }
      case "emitEvent":
        this.store.appendEvent(this.withTraceId(command.event));
        return this.effects.eventsAppended();
      case "jobChanged":
        return this.notifyWatchers(command.jobId);
      case "removeShuffles":
        return this.effects.removeShuffles(command.shuffleIds, command.shuffleAddresses);
      case "spanStart":
        return this.startSpan(command);
      case "spanEvent":
        this.spans.get(command.key)?.addEvent(command.name, command.attributes);
        return;
      case "spanEnd":
        return this.endSpan(command.key, command.error);
    }
  }

  /** History links a job to its trace; only the shell knows span ids. */
  private withTraceId(event: HistoryEvent): HistoryEvent {
    if (event.type !== "jobSubmitted") return event;
    const span = this.spans.get(`job:${event.jobId}`);
    return { ...event, traceId: span?.spanContext().traceId ?? "" };
  }

  private withChannel(executorId: string, action: (channel: ExecutorChannel) => void): void {
    const channel = this.channels.get(executorId);
    if (channel) action(channel);
    else this.logger.warn({ executorId }, "no session to executor; the core will see it lost");
  }

  private traceparentFor(key: string): string {
    const span = this.spans.get(key);
    return span ? traceparentOf(trace.setSpan(context.active(), span)) : "";
  }

  private startSpan(command: Extract<Command, { type: "spanStart" }>): void {
    const parentSpan = command.parentKey ? this.spans.get(command.parentKey) : undefined;
    const parent = parentSpan ? trace.setSpan(context.active(), parentSpan) : contextFromTraceparent(command.parentTraceparent);
    this.spans.set(command.key, tracer().startSpan(command.name, { attributes: command.attributes }, parent));
  }

  private endSpan(key: string, error?: string): void {
    const span = this.spans.get(key);
    if (!span) return;
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
    this.spans.delete(key);
  }

  private notifyWatchers(jobId: string): void {
    const view = jobView(this.state, jobId);
    if (!view || !this.watchers.has(jobId)) return;
    const send = () => {
      this.pendingWatch.delete(jobId);
      const latest = jobView(this.state, jobId);
      if (latest) for (const listener of this.watchers.get(jobId) ?? []) listener(latest);
    };
    // Progress is coalesced so a 20,000-task job does not send 20,000 snapshots; the end is sent at once.
    if (view.status !== "running") {
      clearTimeout(this.pendingWatch.get(jobId));
      return send();
    }
    if (!this.pendingWatch.has(jobId)) this.pendingWatch.set(jobId, setTimeout(send, WATCH_COALESCE_MS));
  }

  close(): void {
    for (const timer of this.pendingWatch.values()) clearTimeout(timer);
    for (const span of this.spans.values()) span.end();
  }
}
