/**
 * A test driver for the core: sends inputs with a manual clock, tracks the
 * tasks it launched, and answers them the way an executor would.
 */
import { step } from "../step.js";
import { createState, type SchedulerState } from "../state.js";
import type { Command, ExecutorDescription, FetchFailure, HistoryEvent, Input, Plan, TaskFailure, TaskLaunch } from "../types.js";

export class Harness {
  readonly state: SchedulerState;
  now = 0;
  /** Tasks launched and not yet answered, killed or lost. */
  readonly live = new Map<string, { executorId: string; task: TaskLaunch }>();
  readonly executors = new Map<string, ExecutorDescription>();
  readonly log: Command[] = [];
  /** Every input with its time, for replay. */
  readonly inputs: Array<{ input: Input; now: number }> = [];
  /** Time spent inside step(), for the benchmark. */
  stepMs = 0;
  /** Answer every commitJobOutput at once, as a shell whose commit succeeds (off: the test answers). */
  answerOutputCommits = true;

  constructor(baseConf: Record<string, string> = {}) {
    this.state = createState(baseConf);
  }

  send(input: Input, advanceMs = 0): Command[] {
    this.now += advanceMs;
    this.inputs.push({ input, now: this.now });
    const started = performance.now();
    const commands = step(this.state, input, this.now);
    this.stepMs += performance.now() - started;
    for (const command of commands) {
      if (command.type === "launchTask") this.live.set(command.task.taskId, { executorId: command.executorId, task: command.task });
      if (command.type === "killTask") this.live.delete(command.taskId);
    }
    this.log.push(...commands);
    if (!this.answerOutputCommits) return commands;
    for (const command of commands.filter((candidate) => candidate.type === "commitJobOutput")) {
      commands.push(...this.send({ type: "jobOutputCommitted", jobId: command.jobId }));
    }
    return commands;
  }

  /** `queuedSlots`: of `slots`, how many are the executor's queue (tasks it has not started). */
  addExecutor(executorId: string, nodeId = `node-${executorId}`, slots = 2, queuedSlots = 0): Command[] {
    const executor = { executorId, nodeId, host: nodeId, slots, shuffleAddress: `${nodeId}:7337`, ...(queuedSlots > 0 && { queuedSlots }) };
    this.executors.set(executorId, executor);
    return this.send({ type: "executorRegistered", executor });
  }

  submit(jobId: string, plan: Plan, conf: Record<string, string> = {}): Command[] {
    return this.send({ type: "jobSubmitted", jobId, plan, bundleDigest: "sha256:bundle", conf, traceparent: "" });
  }

  tick(advanceMs: number): Command[] {
    return this.send({ type: "tick" }, advanceMs);
  }

  loseExecutor(executorId: string, reason = "process exited"): Command[] {
    for (const [taskId, entry] of this.live) if (entry.executorId === executorId) this.live.delete(taskId);
    return this.send({ type: "executorLost", executorId, reason });
  }

  /** The node's shuffle service is gone (its executors with it). */
  loseNode(nodeId: string, reason = "connection refused"): Command[] {
    for (const [taskId, entry] of this.live) if (this.executors.get(entry.executorId)?.nodeId === nodeId) this.live.delete(taskId);
    return this.send({ type: "shuffleServiceLost", nodeId, shuffleAddress: `${nodeId}:7337`, reason });
  }

  /** Reports success: map tasks write 10 bytes per reduce partition on their node; result tasks return [partition]. */
  succeed(taskId: string, durationMs = 5): Command[] {
    return this.send(this.successUpdate(taskId, durationMs));
  }

  /** The successes of an executor's tasks reported in one session message: one "taskUpdates" input. */
  succeedTogether(executorId: string, taskIds: string[], durationMs = 5): Command[] {
    const updates = taskIds.map((taskId) => {
      const { type: _type, executorId: _executorId, ...report } = this.successUpdate(taskId, durationMs);
      return report;
    });
    return this.send({ type: "taskUpdates", executorId, updates });
  }

  /** The update an executor sends for the task's success (the task leaves `live`). */
  successUpdate(taskId: string, durationMs = 5): Extract<Input, { type: "taskUpdate" }> {
    const { executorId, task } = this.take(taskId);
    const executor = this.executors.get(executorId)!;
    const update: Extract<Input, { type: "taskUpdate" }> = { type: "taskUpdate", executorId, taskId, state: "succeeded" };
    if (task.shuffleWrite) {
      update.mapStatus = {
        shuffleId: task.shuffleWrite.shuffleId,
        mapIndex: task.partition,
        attempt: task.attempt,
        shuffleAddress: executor.shuffleAddress,
        nodeId: executor.nodeId,
        partitionSizes: new Array<number>(task.shuffleWrite.numReducePartitions).fill(10),
      };
    } else {
      update.records = Uint8Array.of(task.partition);
      update.count = 1;
    }
    update.metrics = { durationMs, inputBytes: 100, shuffleBytesWritten: 0, shuffleBytesRead: 0, recordsOut: 1, spills: 0, spilledBytes: 0 };
    return update;
  }

  fail(taskId: string, failure: Partial<TaskFailure> & { kind: TaskFailure["kind"] }): Command[] {
    const { executorId } = this.take(taskId);
    const full: TaskFailure = { message: `${failure.kind} in task`, stack: "", ...failure };
    return this.send({ type: "taskUpdate", executorId, taskId, state: failure.kind === "killed" ? "killed" : "failed", failure: full });
  }

  /** A fetch failure reading map output `mapIndex` of the task's shuffle read `readIndex`. */
  fetchFail(taskId: string, mapIndex: number, options: { unreachable?: boolean; readIndex?: number } = {}): Command[] {
    const { task } = this.live.get(taskId)!;
    const read = task.shuffleReads[options.readIndex ?? 0]!;
    const location = read.locations.find((candidate) => candidate.mapIndex === mapIndex);
    const fetch: FetchFailure = {
      shuffleId: read.shuffleId,
      mapIndex,
      mapAttempt: location?.attempt ?? -1,
      shuffleAddress: location?.shuffleAddress ?? "",
      nodeId: location?.nodeId ?? "",
      serviceUnreachable: options.unreachable ?? false,
    };
    return this.fail(taskId, { kind: "fetchFailed", message: options.unreachable ? "connection refused" : "checksum mismatch", fetch });
  }

  /** The executor's answer to a revokeTask: dropped unstarted (`revoked`; it is no longer live) or already started. */
  answerRevoke(taskId: string, revoked: boolean): Command[] {
    const { executorId } = this.state.tasks.get(taskId)!; // a task killed meanwhile is no longer in `live`
    if (revoked) this.live.delete(taskId);
    return this.send({ type: "revokeAnswered", executorId, revokedTaskIds: revoked ? [taskId] : [], startedTaskIds: revoked ? [] : [taskId] });
  }

  commit(taskId: string, requestId = `req-${taskId}`): boolean {
    const decision = this.send({ type: "commitRequested", taskId, requestId }).find((command) => command.type === "commitDecision");
    return decision?.type === "commitDecision" && decision.allowed;
  }

  /** Live task ids, optionally of one stage, sorted. */
  liveIds(stageId?: number): string[] {
    return [...this.live.values()]
      .filter((entry) => stageId === undefined || entry.task.stageId === stageId)
      .map((entry) => entry.task.taskId)
      .sort();
  }

  /** Answers every live task with success until nothing runs. */
  runAll(maxRounds = 100_000): void {
    for (let round = 0; round < maxRounds && this.live.size > 0; round++) {
      this.succeed(this.live.keys().next().value!);
    }
  }

  private take(taskId: string): { executorId: string; task: TaskLaunch } {
    const entry = this.live.get(taskId);
    if (!entry) throw new Error(`task ${taskId} is not live in the harness`);
    this.live.delete(taskId);
    return entry;
  }
}

export function launchesIn(commands: Command[]): Array<{ executorId: string; task: TaskLaunch }> {
  return commands.flatMap((command) => (command.type === "launchTask" ? [{ executorId: command.executorId, task: command.task }] : []));
}

export function commandsIn<T extends Command["type"]>(commands: Command[], type: T): Array<Extract<Command, { type: T }>> {
  return commands.flatMap((command) => (command.type === type ? [command as Extract<Command, { type: T }>] : []));
}

export function eventsIn<T extends HistoryEvent["type"]>(commands: Command[], type: T): Array<Extract<HistoryEvent, { type: T }>> {
  return commands.flatMap((command) =>
    command.type === "emitEvent" && command.event.type === type ? [command.event as Extract<HistoryEvent, { type: T }>] : [],
  );
}

/** A harness with `executors` executors e1..eN on nodes n1..nN, `slots` slots each. */
export function cluster(executors = 2, slots = 2, conf: Record<string, string> = {}): Harness {
  const harness = new Harness(conf);
  for (let i = 1; i <= executors; i++) harness.addExecutor(`e${i}`, `n${i}`, slots);
  return harness;
}

/** Succeeds live tasks of the given stages until none of them is live. */
export function finishStages(h: Harness, ...stageIds: number[]): void {
  for (const stageId of stageIds) while (h.liveIds(stageId).length > 0) h.succeed(h.liveIds(stageId)[0]!);
}

/** The task ids `commands` launch, in order. */
export const launchedIds = (commands: Command[]): string[] => launchesIn(commands).map((launch) => launch.task.taskId);
