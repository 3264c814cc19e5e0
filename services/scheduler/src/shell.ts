import { context, trace, SpanStatusCode, type Span } from "@opentelemetry/api";
import type { Logger } from "@ballast/common/logging";
import { contextFromTraceparent, idOnlySpan, spansExported, traceparentOfSpan, tracer } from "@ballast/common/telemetry";
import { applicationView, cachedDatasetsOf, createState, STATE_FORMAT, executorViews, jobView, listJobs, nextDueMs, nodeViews, step } from "./core/index.js";
import type { ApplicationView, Command, ExecutorView, HistoryEvent, Input, JobView, NodeView, TaskLaunch } from "./core/types.js";
import { serialize, deserialize } from "node:v8";
import { describeError, InvalidArgumentError } from "@ballast/common/errors";
import { GroupCommitter } from "./store/groupCommit.js";
import { JobOutputs, type AbortOutputCommand, type CommitOutputCommand } from "./outputCommit.js";
import type { JobRecord, LogRecord, Replay, SchedulerStore } from "./store/schedulerStore.js";

type SchedulerState = ReturnType<typeof createState>;

/** "job:J", "stage:J:s.a" and "task:J.s.a.p.n" all name their job J. */
function jobIdOfSpanKey(key: string): string {
  const rest = key.slice(key.indexOf(":") + 1);
  return rest.split(/[:.]/)[0]!;
}

function stepsCleanly(state: SchedulerState, input: Input, now: number): boolean {
  try {
    step(state, input, now);
    return true;
  } catch {
    return false;
  }
}

/** The core threw on an input: it was rejected (logged as such) and changed nothing. */
export class RejectedInputError extends InvalidArgumentError {}

/** What the shell needs from the gRPC layer to reach an executor. */
export interface ExecutorChannel {
  launch(task: TaskLaunch, traceparent: string): void;
  kill(taskId: string, reason: string): void;
  /** Take-back: drop the task if still queued (the executor answers with revokeAnswers). */
  revoke(taskId: string, reason: string): void;
  /** Ends the session; the executor must re-register. */
  close(reason: string): void;
  /** Asks the executor process to exit. */
  shutdown(reason: string): void;
  /** unpersist(): the executor frees the dataset's partitions held in its memory. */
  freeCachedDataset(applicationId: string, cacheKey: string): void;
  /** Runs a detached application's driver program there, as its submitter `user`. */
  launchDriver(applicationId: string, attempt: number, user: string): void;
  /** Stops the application's driver process there. */
  stopDriver(applicationId: string, reason: string): void;
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
  /** False while the lease is not surely ours (renewal overdue): commands wait, none is carried out. */
  mayAct?(): boolean;
  /** Job output commits; default: file:// outputs only (no staging connection). */
  outputs?: JobOutputs;
}

/** Telemetry runs as the core steps (the job's trace id goes into its events); everything else waits for durability. */
const SPAN_COMMANDS = new Set<Command["type"]>(["spanStart", "spanEvent", "spanEnd"]);

const WATCH_COALESCE_MS = 100;
/**
 * A snapshot (which compacts the log behind it) every this many inputs, or once this long has
 * passed since the last one, whichever comes first: replay after a crash stays short under load,
 * and a quiet cluster's log stays bounded too. A snapshot serializes the whole state, which
 * retention keeps small, so taking one every few seconds costs little.
 */
const SNAPSHOT_EVERY_INPUTS = 5_000;
const SNAPSHOT_EVERY_MS = 10_000;

/**
 * The imperative shell around the scheduler core: runs the state machine,
 * makes every input durable (with the history events it emitted) before
 * carrying out its commands (task launches on executor streams, commit
 * decisions, watcher notifications), and traces.
 *
 * The core steps at once, so the in-memory state may be a few inputs ahead of
 * the log; nothing leaves the process until the log has caught up, and a
 * fenced log stops the shell for good, so replay after a crash is exact.
 */
export class SchedulerShell {
  private state: SchedulerState;
  private readonly channels = new Map<string, ExecutorChannel>();
  private readonly watchers = new Map<string, Set<(job: JobView) => void>>();
  private readonly pendingWatch = new Map<string, NodeJS.Timeout>();
  private readonly commitWaiters = new Map<string, (allowed: boolean) => void>();
  private readonly spans = new Map<string, Span>();
  private inputsSinceSnapshot = 0;
  /** When the last snapshot was taken (the first logged input's time until then). */
  private lastSnapshotMs: number | undefined;
  private stopped = false;
  private readonly committer: GroupCommitter;
  /** Durable inputs' commands not carried out yet (while the lease is not surely ours). */
  private readonly ready: Command[][] = [];
  private lastSeq = 0;
  private readonly outputs: JobOutputs;
  /** Job records of this process, and those the log knew at recovery (spans after a failover). */
  private readonly jobRecords = new Map<string, JobRecord>();
  /**
   * The state as it was at the last snapshot point, and the logged inputs
   * since: when the core throws halfway through an input, the state is
   * rebuilt from them (the core is deterministic), without the input.
   */
  private base: Uint8Array | undefined;
  private sinceBase: Array<{ input: Input; now: number }> = [];

  constructor(
    private readonly store: SchedulerStore,
    private readonly logger: Logger,
    private readonly effects: ShellEffects,
    private readonly epoch: number,
    private readonly baseConf: Record<string, string> = {},
  ) {
    this.state = createState(baseConf);
    this.base = serialize(this.state);
    this.outputs = effects.outputs ?? new JobOutputs(undefined, store.applicationId);
    this.committer = new GroupCommitter(store, epoch, logger, (err) => {
      this.stopped = true;
      this.effects.leaseLost(err.message);
    });
  }

  /**
   * Rebuilds the state from the latest snapshot and the inputs after it. Their
   * commands were carried out before the crash, so they are dropped here.
   */
  async recover(): Promise<{ inputs: number; jobs: number }> {
    const { snapshot, inputs, lastSeq } = await this.store.loadForReplay(STATE_FORMAT);
    if (!snapshot && inputs.length > 0 && inputs[0]!.seq > 1) {
      // The log is compacted behind snapshots of an older state format: a partial replay would be
      // wrong, so this scheduler starts empty (history keeps the jobs; running ones must be resubmitted).
      this.logger.warn({ firstSeq: inputs[0]!.seq, format: STATE_FORMAT }, "no snapshot of this state format and a compacted log: starting from an empty state");
      inputs.length = 0;
    }
    this.replay(snapshot?.state, inputs);
    this.lastSeq = lastSeq;
    this.rebase(serialize(this.state));
    const runningJobs = listJobs(this.state).filter((j) => j.status === "running");
    for (const { jobId } of runningJobs) {
      const traceparent = await this.store.traceparentOfJob(jobId);
      if (traceparent) this.jobRecords.set(jobId, { jobId, submissionId: "", traceparent });
    }
    const running = runningJobs.length;
    if (snapshot || inputs.length > 0) this.logger.info({ fromSnapshot: snapshot?.seq ?? 0, inputs: inputs.length, runningJobs: running }, "scheduler state recovered from the event log");
    return { inputs: (snapshot?.seq ?? 0) + inputs.length, jobs: running };
  }

  /**
   * Steps the logged inputs after the snapshot, skipping those marked
   * rejected. One that throws anyway (logged by an older version before it
   * was rejected) is skipped too: the state is rebuilt without it, so no
   * input can keep a scheduler from recovering.
   */
  private replay(snapshot: Uint8Array | undefined, inputs: Replay["inputs"]): void {
    const skipped = new Set(inputs.filter((i) => i.rejected !== undefined).map((i) => i.seq));
    if (skipped.size > 0) this.logger.warn({ skipped: skipped.size }, "inputs the core rejected are skipped in replay");
    for (;;) {
      this.state = snapshot ? (deserialize(snapshot) as SchedulerState) : createState(this.baseConf);
      const failed = inputs.find(({ seq, input, now }) => !skipped.has(seq) && !stepsCleanly(this.state, input, now));
      if (!failed) return;
      this.logger.error({ seq: failed.seq, input: failed.input.type }, "a logged input makes the core throw; replay skips it");
      skipped.add(failed.seq);
    }
  }

  /** The job a submission id already created, if any (a retried SubmitJob never runs a job twice). */
  async jobForSubmission(submissionId: string): Promise<string | undefined> {
    if (!submissionId) return undefined;
    return this.submittedHere(submissionId) ?? (await this.store.jobForSubmission(submissionId));
  }

  /** A job this process created for the submission id, durable or not yet (no await: no race with a concurrent retry). */
  submittedHere(submissionId: string): string | undefined {
    for (const job of this.jobRecords.values()) if (submissionId && job.submissionId === submissionId) return job.jobId;
    return undefined;
  }

  /** Runs the input through the core and logs it; its commands are carried out once it is durable. */
  dispatch(input: Input, now = Date.now()): void {
    if (this.stopped) return;
    // Heartbeats and due ticks change the state (timeouts, windows, deadlines), so replay needs them;
    // a tick before nextDueMs changes nothing and is not logged.
    const due = input.type !== "tick" || now >= nextDueMs(this.state);
    const commands = this.stepOrReject(input, now);
    const record: LogRecord | undefined = due || commands.length > 0 ? { seq: ++this.lastSeq, now, input, events: [], jobs: [] } : undefined;
    if (record && input.type === "jobSubmitted") {
      const job = { jobId: input.jobId, submissionId: input.submissionId ?? "", traceparent: input.traceparent };
      this.jobRecords.set(job.jobId, job);
      record.jobs.push(job);
    }
    const deferred: Command[] = [];
    for (const command of commands) {
      if (SPAN_COMMANDS.has(command.type)) this.execute(command);
      else if (command.type === "emitEvent" && record) record.events.push(this.withTraceId(command.event));
      else {
        if (command.type === "jobEvicted" && record) (record.forgetJobs ??= []).push(command.jobId);
        deferred.push(command);
      }
    }
    // The snapshot holds the state after input `seq` (taken now: the state moves on), so replay resumes right after it.
    if (record) this.sinceBase.push({ input, now });
    const snapshot = record && this.snapshotDue(now) ? this.takeSnapshot(now) : undefined;
    this.committer.enqueue(record, () => {
      if (snapshot) this.saveSnapshot(record!.seq, snapshot);
      if (record && record.events.length > 0) this.effects.eventsAppended();
      if (deferred.length > 0) this.ready.push(deferred);
      this.actOnDurable();
    });
  }

  /** Like dispatch, for inputs no caller waits on (ticks, probe and migration outcomes): a rejection is logged only. */
  dispatchInternal(input: Input): void {
    try {
      this.dispatch(input);
    } catch (err) {
      if (!(err instanceof RejectedInputError)) throw err;
    }
  }

  /** Carries out durable inputs' commands in order, unless the lease is not surely ours (then they wait). */
  actOnDurable(): void {
    while (this.ready.length > 0 && !this.stopped && (this.effects.mayAct?.() ?? true)) {
      for (const command of this.ready.shift()!) this.execute(command);
    }
  }

  /** Resolves once every input dispatched so far is durable and its commands ran (tests, shutdown). */
  settled(): Promise<void> {
    return this.committer.idle();
  }

  /** Counts a logged input; true when it is the one to snapshot after. */
  private snapshotDue(now: number): boolean {
    this.lastSnapshotMs ??= now;
    return ++this.inputsSinceSnapshot >= SNAPSHOT_EVERY_INPUTS || now - this.lastSnapshotMs >= SNAPSHOT_EVERY_MS;
  }

  private takeSnapshot(now: number): Uint8Array {
    this.inputsSinceSnapshot = 0;
    this.lastSnapshotMs = now;
    return this.rebase(serialize(this.state));
  }

  private rebase(state: Uint8Array): Uint8Array {
    this.base = state;
    this.sinceBase = [];
    return state;
  }

  /**
   * Steps the core. An input it throws on may have changed the state halfway,
   * so the state is rebuilt without it; the input is logged as rejected (an
   * operator can see it, replay skips it: it cannot poison recovery) and its
   * caller gets the error.
   */
  private stepOrReject(input: Input, now: number): Command[] {
    try {
      return step(this.state, input, now);
    } catch (err) {
      const reason = describeError(err);
      this.logger.error({ err, input: input.type, ...("jobId" in input && { jobId: input.jobId }), ...("executorId" in input && { executorId: input.executorId }) }, "the scheduler core threw on an input; it is rejected and the state rebuilt without it");
      this.state = this.base ? (deserialize(this.base) as SchedulerState) : createState(this.baseConf);
      for (const logged of this.sinceBase) step(this.state, logged.input, logged.now);
      this.committer.enqueue({ seq: ++this.lastSeq, now, input, events: [], jobs: [], rejected: reason }, () => undefined);
      throw new RejectedInputError(`the scheduler could not apply this ${input.type}: ${reason}`);
    }
  }

  private saveSnapshot(seq: number, state: Uint8Array): void {
    // Only a shortcut for replay: a failed write costs a longer replay, nothing else.
    this.store.saveSnapshot(seq, state, STATE_FORMAT).catch((err) => this.logger.warn({ err: describeError(err), seq }, "could not save a snapshot"));
  }

  /** Stops acting (leadership lost or shutting down); nothing more is sent. */
  stop(): void {
    this.stopped = true;
    this.committer.stop();
  }

  attachExecutor(executorId: string, channel: ExecutorChannel): void {
    this.channels.set(executorId, channel);
  }

  /** True while a session is attached for the executor. */
  hasSession(executorId: string): boolean {
    return this.channels.has(executorId);
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

  application(applicationId: string): ApplicationView | undefined {
    return applicationView(this.state, applicationId);
  }

  executors(): ExecutorView[] {
    return executorViews(this.state);
  }

  /** How many cached partitions of the application's dataset the registry holds. */
  cachedPartitions(applicationId: string, cacheKey: string): number {
    return cachedDatasetsOf(this.state, applicationId).find((dataset) => dataset.cacheKey === cacheKey)?.partitions.length ?? 0;
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
      case "revokeTask":
        return this.withChannel(command.executorId, (ch) => ch.revoke(command.taskId, command.reason));
      case "commitDecision": {
        const waiter = this.commitWaiters.get(command.requestId);
        this.commitWaiters.delete(command.requestId);
        return waiter?.(command.allowed);
      }
      case "emitEvent":
        return; // logged with its input (dispatch)
      case "jobChanged":
        return this.notifyWatchers(command.jobId);
      case "removeShuffles":
        return this.effects.removeShuffles(command.shuffleIds, command.shuffleAddresses);
      case "commitJobOutput":
        return this.commitOutput(command);
      case "abortJobOutput":
        return this.abortOutput(command);
      case "jobEvicted":
        this.jobRecords.delete(command.jobId); // the store forgot its record with the input that evicted it
        return;
      case "probeShuffleService":
        return this.effects.probeShuffleService(command.nodeId, command.shuffleAddress);
      case "migrateShuffle":
        return this.effects.migrateShuffle(command.nodeId, command.shuffleAddress, command.peers);
      case "closeSession":
        return this.withChannel(command.executorId, (ch) => ch.close(command.reason));
      case "shutdownExecutor":
        return this.withChannel(command.executorId, (ch) => ch.shutdown(command.reason));
      case "freeCachedDataset":
        return this.withChannel(command.executorId, (ch) => ch.freeCachedDataset(command.applicationId, command.cacheKey));
      case "launchDriver":
        return this.withChannel(command.executorId, (ch) => ch.launchDriver(command.applicationId, command.attempt, command.user));
      case "stopDriver":
        return this.withChannel(command.executorId, (ch) => ch.stopDriver(command.applicationId, command.reason));
      case "spanStart":
        return this.startSpan(command);
      case "spanEvent":
        this.spans.get(command.key)?.addEvent(command.name, command.attributes);
        return;
      case "spanEnd":
        return this.endSpan(command.key, command.error);
    }
  }

  /** Promotes the job's parts; the answer is a new input (dispatched after this command loop, never inside it). */
  private commitOutput(command: CommitOutputCommand): void {
    const { jobId, outputUri } = command;
    void this.outputs.commit(command).then(
      () => setImmediate(() => this.dispatch({ type: "jobOutputCommitted", jobId })),
      (err) => {
        const error = describeError(err);
        this.logger.warn({ jobId, outputUri, err: error }, "job output commit failed");
        setImmediate(() => this.dispatch({ type: "jobOutputCommitted", jobId, error }));
      },
    );
  }

  private abortOutput(command: AbortOutputCommand): void {
    this.outputs.abort(command).catch((err) => {
      this.logger.warn({ jobId: command.jobId, outputUri: command.outputUri, err: describeError(err) }, "could not remove a failed job's temporary output");
    });
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
    return span ? traceparentOfSpan(span) : "";
  }

  private startSpan(command: Extract<Command, { type: "spanStart" }>): void {
    const parentSpan = command.parentKey ? this.spans.get(command.parentKey) : undefined;
    // After a failover the parent span lived in the old process: stay in the job's trace through the client's context
    // (looked up only then: a task span's parent is almost always here).
    const fallback = () => command.parentTraceparent ?? (command.parentKey ? this.jobRecords.get(jobIdOfSpanKey(command.parentKey))?.traceparent || undefined : undefined);
    const parent = parentSpan ? trace.setSpan(context.active(), parentSpan) : contextFromTraceparent(fallback());
    if (!spansExported()) return void this.spans.set(command.key, idOnlySpan(parent));
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
    this.stop();
    for (const timer of this.pendingWatch.values()) clearTimeout(timer);
    for (const span of this.spans.values()) span.end();
  }
}
