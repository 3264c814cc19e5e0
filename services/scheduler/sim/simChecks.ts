/**
 * The simulator's invariants, checked after every step and at the end:
 * placement (alive, usable, not excluded, free slot, complete inputs, no
 * partition rerun that has output), recomputation of lost partitions only,
 * resubmissions only when a batching window closes or a stage completes,
 * ticks before nextDueMs changing nothing (the shell does not log them),
 * bounded attempts, the exclusion cap, speculative races (at most an
 * original and one copy live per partition, the loser killed as soon as the
 * winner's output is registered, one registration per success), one key
 * sample per range-partitioned shuffle, and the job's outcome.
 */
import { checkDrivers } from "./simDriverChecks.js";
import { neededParentIds } from "../src/core/cachedStages.js";
import { excludedNodeCount, maxExcludedNodes } from "../src/core/exclusionRules.js";
import { activeAttempt, hasOutput, type SchedulerState } from "../src/core/state.js";
import type { ApplicationView, Command, HistoryEvent, Input, JobView, Plan, TaskLaunch } from "../src/core/types.js";
import { executorViews, nextDueMs } from "../src/core/views.js";
import { OutputCommitChecks } from "./simOutputChecks.js";

export interface StepSnapshot {
  /** "<shuffleId>/<mapIndex>" -> where the registered output lived. */
  outputs: Map<string, { shuffleAddress: string; attempt: number }>;
  resubmitAtMs?: number;
  /** Result partitions returned so far. */
  resultsDone: number;
  /** Before a tick: the shell logs no tick before this, so an earlier one must change nothing. */
  nextDueMs: number;
}

/** The simulated cluster's truth: could this output really not be read (or was its node leaving)? */
export type LossOracle = (shuffleAddress: string, shuffleId: string, mapIndex: number, attempt: number) => boolean;

export class SimChecks {
  readonly violations: string[] = [];
  /** Per range-partitioned shuffle id: the key sample its first map launch carried. */
  private readonly rangeSamplesSeen = new Map<string, string>();
  private readonly outputCommits: OutputCommitChecks;

  constructor(
    private readonly seed: number,
    private readonly jobId: string,
    private readonly clock: () => number,
    private readonly reallyLost: LossOracle,
  ) {
    this.outputCommits = new OutputCommitChecks(jobId, (message) => this.violation(message));
  }

  violation(message: string): void {
    if (this.violations.length < 20) this.violations.push(`seed ${this.seed} at ${this.clock()}ms: ${message}`);
  }

  before(state: SchedulerState, input: Input): StepSnapshot {
    const outputs: StepSnapshot["outputs"] = new Map();
    const job = state.jobs.get(this.jobId);
    for (const shuffle of job?.shuffles ?? []) {
      shuffle?.outputs.forEach((status, mapIndex) => status && outputs.set(`${shuffle.shuffleId}/${mapIndex}`, status));
    }
    const resultsDone = job && job.stages.length > 0 ? job.stages[job.resultStageId]!.resultsDone : 0;
    return { outputs, resubmitAtMs: job?.resubmitAtMs, resultsDone, nextDueMs: input.type === "tick" ? nextDueMs(state) : -Infinity };
  }

  /** `before` is the snapshot taken before the step (launch checks use the state after it). */
  after(state: SchedulerState, commands: Command[], before: StepSnapshot): void {
    if (this.clock() < before.nextDueMs && commands.length > 0) {
      this.violation(`a tick before nextDueMs (${before.nextDueMs}) changed something: ${commands.map((command) => JSON.stringify(command).slice(0, 300)).join("\n")}`);
    }
    const views = new Map(executorViews(state).map((view) => [view.executorId, view]));
    for (const view of views.values()) {
      if (view.runningTasks > view.slots) this.violation(`executor ${view.executorId} runs ${view.runningTasks} > ${view.slots} tasks`);
    }
    this.checkCacheRegistry(state, commands);
    checkDrivers(state, (message) => this.violation(message));
    this.outputCommits.after(commands);
    const job = state.jobs.get(this.jobId);
    let stageSucceeded = false;
    for (const command of commands) {
      if (command.type === "launchTask") {
        this.checkLaunch(state, command);
        this.checkRangeSamples(command.task);
      }
      if (command.type === "revokeTask") this.checkRevoke(state, command);
      if (command.type !== "emitEvent") continue;
      const event = command.event;
      if (event.type === "stageEnded" && event.status === "succeeded") stageSucceeded = true;
      if (event.type === "stageSubmitted" && job) {
        const stage = job.stages[event.stageId]!;
        const extra = event.partitions.filter((partition) => hasOutput(job, stage, partition));
        if (extra.length > 0) this.violation(`stage ${event.stageId} attempt ${event.attempt} recomputes partitions that have output: ${extra}`);
      }
      if (event.type === "mapOutputsLost" && event.jobId === this.jobId) {
        for (const mapIndex of event.mapIndexes) {
          const status = before.outputs.get(`${event.shuffleId}/${mapIndex}`);
          if (status && !this.reallyLost(status.shuffleAddress, event.shuffleId, mapIndex, status.attempt)) {
            this.violation(`map output ${event.shuffleId}/${mapIndex} at ${status.shuffleAddress} unregistered while readable (${event.reason})`);
          }
        }
      }
      if (event.type === "stageResubmitted" && event.jobId === this.jobId) {
        // Closed in this step; losses later in the same step may have opened the next window already.
        const windowClosed = before.resubmitAtMs !== undefined && job?.resubmitAtMs !== before.resubmitAtMs;
        if (!windowClosed && !stageSucceeded) this.violation(`stage ${event.stageId} resubmitted outside a batching window or dependency order`);
      }
    }
    const maxAttempts = job?.conf["ballast.stage.maxConsecutiveAttempts"] ?? 0;
    for (const stage of job?.stages ?? []) {
      if (stage.consecutiveFailures > maxAttempts) this.violation(`stage ${stage.stageId} failed ${stage.consecutiveFailures} times in a row`);
    }
    this.checkRaces(state, commands);
    this.checkRegistrations(state, commands, before);
    const { excluded, known } = excludedNodeCount(state);
    const cap = maxExcludedNodes(known, state.conf["ballast.excludeOnFailure.maxExcludedNodeRatio"]);
    if (excluded > cap) this.violation(`${excluded} of ${known} nodes excluded, above the cap of ${cap}`);
  }

  /** Range bounds must never change: every map launch of a shuffle, before and after failovers, carries the same sample. */
  private checkRangeSamples(task: TaskLaunch): void {
    const samples = task.shuffleWrite?.rangeSamples;
    if (!samples) return;
    const digest = samples.map((block) => Buffer.from(block).toString("hex")).join("/");
    const first = this.rangeSamplesSeen.get(task.shuffleWrite!.shuffleId);
    if (first === undefined) this.rangeSamplesSeen.set(task.shuffleWrite!.shuffleId, digest);
    else if (first !== digest) this.violation(`map task ${task.taskId} got a different key sample than earlier map tasks of its shuffle`);
  }

  /** Take-back asks back only a live plain run: never a speculative race, a retry after a failure, or a task holding a commit. */
  private checkRevoke(state: SchedulerState, command: Extract<Command, { type: "revokeTask" }>): void {
    const task = state.tasks.get(command.taskId);
    if (!task || task.abandoned || task.executorId !== command.executorId) return this.violation(`revoke of ${command.taskId}, not live on ${command.executorId}`);
    const job = state.jobs.get(task.jobId)!;
    const run = job.stages[task.stageId]!.attempts[task.stageAttempt]!.runs.get(task.partition);
    if (run?.racing || run?.failures) this.violation(`revoke of ${command.taskId}, a speculative race or a retry after a failure`);
    if ([...job.commitAuth.values()].includes(task.taskId)) this.violation(`revoke of ${command.taskId}, which holds a commit`);
  }

  /** Never two copies plus the original: live tasks of one partition in one stage attempt are one, or a race of two. */
  private checkRaces(state: SchedulerState, commands: Command[]): void {
    const live = new Map<string, string[]>();
    for (const task of state.tasks.values()) {
      if (task.abandoned || task.jobId !== this.jobId) continue;
      const key = `${task.stageId}.${task.stageAttempt}.${task.partition}`;
      live.set(key, [...(live.get(key) ?? []), task.taskId]);
    }
    const job = state.jobs.get(this.jobId);
    for (const [key, taskIds] of live) {
      if (taskIds.length === 1) continue;
      const [stageId, stageAttempt, partition] = key.split(".").map(Number) as [number, number, number];
      const racing = job?.stages[stageId]!.attempts[stageAttempt]!.runs.get(partition)?.racing;
      if (taskIds.length > 2 || !taskIds.every((taskId) => racing?.includes(taskId))) {
        this.violation(`partition ${partition} of stage ${stageId} attempt ${stageAttempt} has live tasks ${taskIds.join(", ")} (at most an original and one copy)`);
      }
    }
    // The winner's output is registered: its racer is killed in the same step.
    for (const event of succeededTasks(commands)) {
      const [stageId, stageAttempt, partition] = event.taskId.split(".").slice(-4).map(Number) as [number, number, number];
      const stage = job?.stages[stageId];
      const racing = stage?.attempts[stageAttempt]?.runs.get(partition)?.racing;
      if (!job || !stage || !racing?.includes(event.taskId) || !hasOutput(job, stage, partition)) continue;
      const loser = racing.find((taskId) => taskId !== event.taskId && state.tasks.get(taskId)?.abandoned === false);
      if (loser) this.violation(`task ${event.taskId} won partition ${partition} of stage ${stageId} but its racer ${loser} still runs`);
    }
  }

  /** Each success registers at most one output, and a registered map output is never replaced while it stays registered. */
  private checkRegistrations(state: SchedulerState, commands: Command[], before: StepSnapshot): void {
    const job = state.jobs.get(this.jobId);
    if (!job) return;
    const successes = new Map<string, number>();
    for (const event of succeededTasks(commands)) {
      const key = `${event.stageId}/${event.partition}`;
      successes.set(key, (successes.get(key) ?? 0) + 1);
    }
    let resultSuccesses = 0;
    for (const [key, count] of successes) if (key.startsWith(`${job.resultStageId}/`)) resultSuccesses += count;
    const resultsDone = job.stages.length > 0 ? job.stages[job.resultStageId]!.resultsDone : 0;
    if (resultsDone - before.resultsDone > resultSuccesses) {
      this.violation(`${resultsDone - before.resultsDone} results registered for ${resultSuccesses} successful result tasks`);
    }
    for (const shuffle of job.shuffles) {
      shuffle?.outputs.forEach((status, mapIndex) => {
        if (!status) return;
        const previous = before.outputs.get(`${shuffle.shuffleId}/${mapIndex}`);
        if (previous && previous.attempt !== status.attempt) {
          this.violation(`map output ${shuffle.shuffleId}/${mapIndex} of attempt ${previous.attempt} replaced by attempt ${status.attempt}`);
        }
        if (!previous && !successes.has(`${shuffle.mapStageId}/${mapIndex}`)) {
          this.violation(`map output ${shuffle.shuffleId}/${mapIndex} registered without a successful task`);
        }
      });
    }
  }

  /**
   * The cache registry never names a memory copy on an executor the core
   * knows is lost, nor a disk copy on a shuffle service it knows is gone;
   * launches offer only registered copies.
   */
  private checkCacheRegistry(state: SchedulerState, commands: Command[]): void {
    const lostAddresses = new Set([...state.nodes.values()].filter((node) => node.lost).map((node) => node.shuffleAddress));
    for (const [key, partitions] of state.cache) {
      for (const [partition, entry] of partitions) {
        if (entry.memoryExecutorId && !state.executors.get(entry.memoryExecutorId)?.alive) {
          this.violation(`cached ${key}/${partition} registered in the memory of lost executor ${entry.memoryExecutorId}`);
        }
        if (entry.diskShuffleAddress && lostAddresses.has(entry.diskShuffleAddress)) {
          this.violation(`cached ${key}/${partition} registered on lost shuffle service ${entry.diskShuffleAddress}`);
        }
      }
    }
    for (const command of commands) {
      if (command.type !== "launchTask") continue;
      const { task } = command;
      for (const location of task.cachedPartitions ?? []) {
        const entry = state.cache.get(`${task.applicationId}/${location.cacheKey}`)?.get(location.partition);
        if (!entry) this.violation(`launch ${task.taskId} offers unregistered cached partition ${location.cacheKey}/${location.partition}`);
      }
    }
  }

  private checkLaunch(state: SchedulerState, command: Extract<Command, { type: "launchTask" }>): void {
    const { task, executorId } = command;
    const executor = state.executors.get(executorId);
    const node = executor && state.nodes.get(executor.description.nodeId);
    if (!executor?.alive || !node) return this.violation(`launch ${task.taskId} on dead executor ${executorId}`);
    if (node.lost || node.decommission) this.violation(`launch ${task.taskId} on node ${node.nodeId} that is lost or decommissioning`);
    if (executor.reconnectDeadlineMs !== 0) this.violation(`launch ${task.taskId} on ${executorId} before it reconnected`);
    if (executor.excludedUntilMs !== 0 || node.excludedUntilMs !== 0) this.violation(`launch ${task.taskId} on excluded ${executorId}`);
    const job = state.jobs.get(task.jobId)!;
    const attempt = activeAttempt(job.stages[task.stageId]!);
    if (attempt && (attempt.excludedExecutors.has(executorId) || attempt.excludedNodes.has(node.nodeId))) {
      this.violation(`launch ${task.taskId} on ${executorId}, excluded for stage ${task.stageId}`);
    }
    if (hasOutput(job, job.stages[task.stageId]!, task.partition)) this.violation(`launch ${task.taskId} for a partition that already has output`);
    // A shuffle may be incomplete only when the stage skips its map stage (the cache holds what it would feed, whole).
    const needed = new Set(neededParentIds(state, job, job.stages[task.stageId]!).map((id) => job.stages[id]!.shuffleWrite));
    for (const read of task.shuffleReads) {
      if (read.locations.length !== read.numMaps && needed.has(read.shuffleIndex)) this.violation(`launch ${task.taskId} before shuffle ${read.shuffleId} is complete`);
    }
  }

  /**
   * Succeeded: the exact result, attempts bounded. Failed: a stated cause,
   * and never a stage abort caused by a decommissioned node's fetch failures.
   */
  /** The application's record (kept apart from the job, and rebuilt by replay after a crash) shows the job as it ended. */
  applicationRecord(application: ApplicationView | undefined, view: JobView, actionIndex: number): void {
    const recorded = application?.actions[actionIndex];
    if (!recorded) return this.violation("the application's record lost its action");
    if (recorded.jobId !== view.jobId || recorded.status !== view.status) {
      return this.violation(`the application's record shows ${recorded.jobId} ${recorded.status}, the job is ${view.jobId} ${view.status}`);
    }
    if (view.status === "succeeded" && JSON.stringify(recorded.result) !== JSON.stringify(view.result)) this.violation("the application's recorded result differs from the job's");
  }

  outcome(view: JobView, plan: Plan, faults: number, maxConsecutive: number, fetchFailures: { plain: Set<string>; decommission: Set<string> }): void {
    if (view.status === "running") return this.violation("job still running at the end");
    this.outputCommits.outcome(view, plan.action);
    if (view.status === "failed") {
      if (!view.error?.message || !["stageFailure", "userError", "executorError", "executorLost", "unschedulable"].includes(view.error.kind)) {
        this.violation(`job failed without a stated cause: ${JSON.stringify(view.error)}`);
      }
      for (const line of view.error?.stack.split("\n") ?? []) {
        const match = /FetchFailed\(shuffle ([^,]+), map (\d+), ([^)]+)\)/.exec(line);
        const key = match && `${match[1]}/${match[2]}/${match[3]}`;
        if (key && fetchFailures.decommission.has(key) && !fetchFailures.plain.has(key)) {
          this.violation(`a decommissioned node's fetch failure counted toward the abort: ${line}`);
        }
      }
      return;
    }
    const resultPartitions = plan.datasets.find((dataset) => dataset.id === plan.finalDatasetId)!.numPartitions;
    const expected = Array.from({ length: resultPartitions }, (_, partition) => Uint8Array.of(partition % 256));
    if (JSON.stringify(view.result?.partitionRecords) !== JSON.stringify(expected) || view.result?.count !== resultPartitions) {
      this.violation("job succeeded with a wrong result");
    }
    const bound = view.stages.length * (1 + faults) * maxConsecutive;
    if (view.stats.stageAttempts > bound) this.violation(`${view.stats.stageAttempts} stage attempts > bound ${bound}`);
  }
}

function succeededTasks(commands: Command[]): Array<Extract<HistoryEvent, { type: "taskEnded" }>> {
  return commands.flatMap((command) =>
    command.type === "emitEvent" && command.event.type === "taskEnded" && command.event.state === "succeeded" ? [command.event] : [],
  );
}
