import { context, trace, SpanStatusCode, type Span } from "@opentelemetry/api";
import type { Logger } from "@ballast/common/logging";
import { contextFromTraceparent, traceparentOf, tracer } from "@ballast/common/telemetry";
import { createState, STATE_FORMAT, executorViews, jobView, listJobs, nextDueMs, nodeViews, step } from "./core/index.js";
import type { Command, ExecutorView, HistoryEvent, Input, JobView, NodeView, TaskLaunch } from "./core/types.js";
import { LeaseLostError, type SchedulerStore } from "./store/schedulerStore.js";

type SchedulerState = ReturnType<typeof createState>;

/** "job:J", "stage:J:s.a" and "task:J.s.a.p.n" all name their job J. */
function jobIdOfSpanKey(key: string): string {
  const rest = key.slice(key.indexOf(":") + 1);
  return rest.split(/[:.]/)[0]!;
}

/** What the shell needs from the gRPC layer to reach an executor. */
export interface ExecutorChannel {
  launch(task: TaskLaunch, traceparent: string): void;
  kill(taskId: string, reason: string): void;
  /** Ends the session; the executor must re-register. */
  close(reason: string): void;
  /** Asks the executor process to exit. */
  shutdown(reason: string): void;
}

/** Side effects outside the state machine; their outcomes come back as inputs. */
export interface ShellEffects {
  /** Best effort: the job's shuffle data may go. */
  removeShuffles(shuffleIds: string[], shuffleAddresses: string[]): void;
  /** New events are in the outbox. */
  eventsAppended(): void;
  /** Checks a node's shuffle service; dispatches shuffleServiceLost when it is gone. */
  probeShuffleService(nodeId: string, shuffleAddress: string): void;
  /** Migrates a decommissioning node's outputs; dispatches mapOutputMigrated and migrationFinished. */
  migrateShuffle(nodeId: string, shuffleAddress: string, peers: Array<{ nodeId: string; shuffleAddress: string }>): void;
  /** The store refused an input: another scheduler leads now. */
  leaseLost(reason: string): void;
}

const WATCH_COALESCE_MS = 100;
/** A snapshot every this many inputs keeps replay after a crash short. */
const SNAPSHOT_EVERY = 5_000;

/**
 * The imperative shell around the scheduler core: persists every input
 * before acting on it, runs the state machine, and carries out its commands
 * (task launches on executor streams, commit decisions, history events,
 * spans, watcher notifications).
 */
export class SchedulerShell {
  private state: SchedulerState;
  private readonly channels = new Map<string, ExecutorChannel>();
  private readonly watchers = new Map<string, Set<(job: JobView) => void>>();
  private readonly pendingWatch = new Map<string, NodeJS.Timeout>();
  private readonly commitWaiters = new Map<string, (allowed: boolean) => void>();
  private readonly spans = new Map<string, Span>();
  private inputsSinceSnapshot = 0;
  private stopped = false;

  constructor(
    private readonly store: SchedulerStore,
    private readonly logger: Logger,
    private readonly effects: ShellEffects,
    private readonly epoch: number,
    baseConf: Record<string, string> = {},
  ) {
    this.state = createState(baseConf);
  }

  /**
   * Rebuilds the state from the latest snapshot and the inputs after it. Their
   * commands were carried out before the crash, so they are dropped here.
   */
  recover(): { inputs: number; jobs: number } {
    const { snapshot, inputs } = this.store.loadForReplay(STATE_FORMAT);
    if (snapshot) this.state = snapshot.state as SchedulerState;
    for (const { input, now } of inputs) step(this.state, input, now);
    const running = listJobs(this.state).filter((j) => j.status === "running").length;
    if (snapshot || inputs.length > 0) this.logger.info({ fromSnapshot: snapshot?.seq ?? 0, inputs: inputs.length, runningJobs: running }, "scheduler state recovered from the event log");
    return { inputs: (snapshot?.seq ?? 0) + inputs.length, jobs: running };
  }

  /** The job a submission id already created, if any (a retried SubmitJob never runs a job twice). */
  jobForSubmission(submissionId: string): string | undefined {
    return submissionId ? this.store.jobForSubmission(submissionId) : undefined;
  }

  /** Logs the input durably, then runs it through the core and carries out the commands. */
  dispatch(input: Input, now = Date.now()): void {
    if (this.stopped) return;
    let seq = 0;
    try {
      // Heartbeats and due ticks change the state (timeouts, windows, deadlines), so replay needs them;
      // a tick before nextDueMs changes nothing and is not logged.
      if (input.type !== "tick" || now >= nextDueMs(this.state)) {
        seq = this.store.appendInput(input, now, this.epoch);
        if (input.type === "jobSubmitted") this.store.recordJob(input.jobId, input.submissionId ?? "", input.traceparent);
      }
    } catch (err) {
      if (!(err instanceof LeaseLostError)) throw err;
      this.stopped = true;
      return this.effects.leaseLost(err.message);
    }
    const commands = step(this.state, input, now);
    // The snapshot holds the state after input `seq`, so replay resumes right after it.
    if (seq > 0 && ++this.inputsSinceSnapshot >= SNAPSHOT_EVERY) this.snapshot(seq);
    for (const command of commands) this.execute(command);
  }

  private snapshot(seq: number): void {
    this.inputsSinceSnapshot = 0;
    this.store.saveSnapshot(seq, this.state, STATE_FORMAT);
  }

  /** Stops acting (leadership lost or shutting down); nothing more is sent. */
  stop(): void {
    this.stopped = true;
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

  nodes(): NodeView[] {
    return nodeViews(this.state);
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
      case "probeShuffleService":
        return this.effects.probeShuffleService(command.nodeId, command.shuffleAddress);
      case "migrateShuffle":
        return this.effects.migrateShuffle(command.nodeId, command.shuffleAddress, command.peers);
      case "closeSession":
        return this.withChannel(command.executorId, (ch) => ch.close(command.reason));
      case "shutdownExecutor":
        return this.withChannel(command.executorId, (ch) => ch.shutdown(command.reason));
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
    // After a failover the parent span lived in the old process: stay in the job's trace through the client's context.
    const fallback = command.parentTraceparent ?? (command.parentKey ? this.store.traceparentOfJob(jobIdOfSpanKey(command.parentKey)) : undefined);
    const parent = parentSpan ? trace.setSpan(context.active(), parentSpan) : contextFromTraceparent(fallback);
    const options = command.startTime === undefined ? { attributes: command.attributes } : { attributes: command.attributes, startTime: command.startTime };
    this.spans.set(command.key, tracer().startSpan(command.name, options, parent));
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
    this.stopped = true;
    for (const timer of this.pendingWatch.values()) clearTimeout(timer);
    for (const span of this.spans.values()) span.end();
  }
}
