/**
 * A seeded simulated cluster driving the real scheduler core: fake
 * executors and shuffle services, simulated time, random executor deaths,
 * node losses and corrupt blocks. Invariants are checked after every step;
 * a failing seed reproduces exactly.
 */
import { step } from "../step.js";
import { createState, hasOutput, type SchedulerState } from "../state.js";
import { executorViews, jobView } from "../views.js";
import type { Command, FetchFailure, Input, JobView, Plan, TaskFailure, TaskLaunch } from "../types.js";

export interface SimOptions {
  seed: number;
  plan: Plan;
  nodes?: number;
  slots?: number;
  /** Faults injected at random times in the first `faultWindowMs`. */
  faults?: number;
  faultWindowMs?: number;
  userErrorRate?: number;
  conf?: Record<string, string>;
  maxTimeMs?: number;
}

export interface SimResult {
  view: JobView;
  violations: string[];
  faultsInjected: number;
  steps: number;
  endTimeMs: number;
  /** Every command, for determinism checks. */
  commands: Command[];
}

interface SimNode {
  nodeId: string;
  executorId: string;
  address: string;
  executorUp: boolean;
  serviceUp: boolean;
  /** "<shuffleId>/<mapIndex>/<attempt>" -> corrupt? */
  blocks: Map<string, boolean>;
}

interface SimEvent {
  at: number;
  seq: number;
  run: () => void;
}

const JOB_ID = "sim";
const TICK_MS = 100;
const HEARTBEAT_MS = 500;

/** mulberry32: small, fast, good enough for choosing faults. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly random: () => number;
  private readonly state: SchedulerState;
  private readonly nodes: SimNode[] = [];
  private readonly running = new Map<string, { node: SimNode; task: TaskLaunch }>();
  private readonly queue: SimEvent[] = [];
  private readonly violations: string[] = [];
  private readonly commands: Command[] = [];
  private readonly slots: number;
  private now = 0;
  private seq = 0;
  private steps = 0;
  private faultsInjected = 0;

  constructor(private readonly options: SimOptions) {
    this.random = prng(options.seed);
    this.slots = options.slots ?? 2;
    this.state = createState({
      "ballast.executor.heartbeatTimeout": "2s",
      "ballast.executor.heartbeatInterval": "500ms",
      "ballast.scheduler.resubmitDelay": "200ms",
      ...options.conf,
    });
    for (let i = 0; i < (options.nodes ?? 3); i++) {
      this.nodes.push({ nodeId: `n${i}`, executorId: `e${i}`, address: `10.0.0.${i}:7337`, executorUp: true, serviceUp: true, blocks: new Map() });
    }
  }

  run(): SimResult {
    for (const node of this.nodes) this.registerExecutor(node);
    this.send({ type: "jobSubmitted", jobId: JOB_ID, plan: this.options.plan, bundleDigest: "sha256:sim", conf: {}, traceparent: "" });
    this.at(TICK_MS, () => this.tickLoop());
    this.at(HEARTBEAT_MS, () => this.heartbeatLoop());
    const faults = this.options.faults ?? 3;
    for (let i = 0; i < faults; i++) this.at(this.random() * (this.options.faultWindowMs ?? 1500), () => this.injectFault());
    const maxTimeMs = this.options.maxTimeMs ?? 600_000;
    while (this.queue.length > 0 && this.jobRunning() && this.now <= maxTimeMs) {
      const event = this.queue.shift()!;
      this.now = event.at;
      event.run();
    }
    const view = jobView(this.state, JOB_ID)!;
    this.checkOutcome(view);
    return { view, violations: this.violations, faultsInjected: this.faultsInjected, steps: this.steps, endTimeMs: this.now, commands: this.commands };
  }

  // ----------------------------------------------------------- event queue

  private at(delayMs: number, run: () => void): void {
    const event = { at: this.now + Math.max(0, Math.round(delayMs)), seq: this.seq++, run };
    let index = this.queue.length;
    while (index > 0 && this.queue[index - 1]!.at > event.at) index--;
    this.queue.splice(index, 0, event);
  }

  private jobRunning(): boolean {
    return this.state.jobs.get(JOB_ID)?.status === "running";
  }

  private tickLoop(): void {
    this.send({ type: "tick" });
    this.at(TICK_MS, () => this.tickLoop());
  }

  private heartbeatLoop(): void {
    for (const node of this.nodes) {
      if (!node.executorUp) continue;
      const runningTaskIds = [...this.running].filter(([, entry]) => entry.node === node).map(([taskId]) => taskId);
      this.send({ type: "heartbeat", executorId: node.executorId, runningTaskIds });
    }
    this.at(HEARTBEAT_MS, () => this.heartbeatLoop());
  }

  // ---------------------------------------------------------------- faults

  private injectFault(): void {
    const node = this.nodes[Math.floor(this.random() * this.nodes.length)]!;
    const roll = this.random();
    this.faultsInjected++;
    if (roll < 0.4) this.killExecutor(node, false);
    else if (roll < 0.7) this.killExecutor(node, true);
    else this.corruptBlock(node);
  }

  /** The executor process dies (and with it the shuffle service's data when the node is lost). */
  private killExecutor(node: SimNode, nodeLost: boolean): void {
    if (!node.executorUp) return;
    node.executorUp = false;
    for (const [taskId, entry] of this.running) if (entry.node === node) this.running.delete(taskId);
    if (nodeLost) {
      node.serviceUp = false;
      node.blocks.clear();
    }
    // Half the time the stream breaks visibly; otherwise only the heartbeat timeout tells.
    if (this.random() < 0.5) this.send({ type: "executorLost", executorId: node.executorId, reason: "stream closed" });
    this.at(500 + this.random() * 3000, () => {
      node.serviceUp = true;
      node.executorUp = true;
      this.registerExecutor(node);
    });
  }

  private corruptBlock(node: SimNode): void {
    const keys = [...node.blocks.keys()];
    if (keys.length > 0) node.blocks.set(keys[Math.floor(this.random() * keys.length)]!, true);
  }

  private registerExecutor(node: SimNode): void {
    this.send({
      type: "executorRegistered",
      executor: { executorId: node.executorId, nodeId: node.nodeId, host: node.nodeId, slots: this.slots, shuffleAddress: node.address },
    });
  }

  // ------------------------------------------------------------ the steps

  private send(input: Input): Command[] {
    const missingBefore = this.missingPartitions();
    const commands = step(this.state, input, this.now);
    this.steps++;
    this.commands.push(...commands);
    this.checkStep(commands, missingBefore);
    for (const command of commands) this.carryOut(command);
    return commands;
  }

  private carryOut(command: Command): void {
    if (command.type === "launchTask") {
      const node = this.nodes.find((candidate) => candidate.executorId === command.executorId)!;
      if (!node.executorUp) return; // the scheduler does not know yet: the task vanishes
      this.running.set(command.task.taskId, { node, task: command.task });
      this.at(20 + this.random() * 180, () => this.finishTask(command.task.taskId));
    } else if (command.type === "killTask") {
      const entry = this.running.get(command.taskId);
      if (!entry) return;
      this.running.delete(command.taskId);
      this.at(1, () => this.report(entry.node, command.taskId, "killed", { kind: "killed", message: "killed", stack: "" }));
    }
  }

  private finishTask(taskId: string): void {
    const entry = this.running.get(taskId);
    if (!entry) return;
    this.running.delete(taskId);
    const { node, task } = entry;
    if (this.random() < (this.options.userErrorRate ?? 0)) {
      this.report(node, taskId, "failed", { kind: "userError", message: "Error: flaky user code", stack: "at job.ts:1" });
      return;
    }
    const fetch = this.readShuffles(task);
    if (fetch) {
      this.report(node, taskId, "failed", { kind: "fetchFailed", message: "fetch failed after retries", stack: "", fetch });
      return;
    }
    if (task.shuffleWrite) this.succeedMapTask(node, task);
    else this.succeedResultTask(node, task);
  }

  /** The first unreadable block, as the executor would report it after its retries. */
  private readShuffles(task: TaskLaunch): FetchFailure | undefined {
    for (const read of task.shuffleReads) {
      for (let mapIndex = 0; mapIndex < read.numMaps; mapIndex++) {
        const location = read.locations.find((candidate) => candidate.mapIndex === mapIndex);
        const base = { shuffleId: read.shuffleId, mapIndex, mapAttempt: location?.attempt ?? -1, shuffleAddress: location?.shuffleAddress ?? "", nodeId: location?.nodeId ?? "" };
        if (!location) return { ...base, serviceUnreachable: false };
        const holder = this.nodes.find((candidate) => candidate.address === location.shuffleAddress)!;
        if (!holder.serviceUp) return { ...base, serviceUnreachable: true };
        const corrupt = holder.blocks.get(`${read.shuffleId}/${mapIndex}/${location.attempt}`);
        if (corrupt !== false) return { ...base, serviceUnreachable: false };
      }
    }
    return undefined;
  }

  private succeedMapTask(node: SimNode, task: TaskLaunch): void {
    const write = task.shuffleWrite!;
    if (!node.serviceUp) {
      this.report(node, task.taskId, "failed", { kind: "executorError", message: "shuffle service unavailable", stack: "" });
      return;
    }
    node.blocks.set(`${write.shuffleId}/${task.partition}/${task.attempt}`, false);
    this.send({
      type: "taskUpdate",
      executorId: node.executorId,
      taskId: task.taskId,
      state: "succeeded",
      mapStatus: {
        shuffleId: write.shuffleId,
        mapIndex: task.partition,
        attempt: task.attempt,
        shuffleAddress: node.address,
        nodeId: node.nodeId,
        partitionSizes: new Array<number>(write.numReducePartitions).fill(8),
      },
    });
  }

  private succeedResultTask(node: SimNode, task: TaskLaunch): void {
    if (task.plan.action === "saveAsTextFile") {
      const decision = this.send({ type: "commitRequested", taskId: task.taskId, requestId: `commit-${task.taskId}` })
        .find((command) => command.type === "commitDecision");
      if (decision?.type !== "commitDecision" || !decision.allowed) {
        this.report(node, task.taskId, "failed", { kind: "commitDenied", message: "commit denied", stack: "" });
        return;
      }
    }
    this.send({ type: "taskUpdate", executorId: node.executorId, taskId: task.taskId, state: "succeeded", records: Uint8Array.of(task.partition % 256), count: 1 });
  }

  private report(node: SimNode, taskId: string, state: "failed" | "killed", failure: TaskFailure): void {
    if (node.executorUp) this.send({ type: "taskUpdate", executorId: node.executorId, taskId, state, failure });
  }

  // ------------------------------------------------------------ invariants

  /** Per stage, partitions without output right now ("stageId" -> set). */
  private missingPartitions(): Map<number, Set<number>> {
    const missing = new Map<number, Set<number>>();
    const job = this.state.jobs.get(JOB_ID);
    for (const stage of job?.stages ?? []) {
      const set = new Set<number>();
      for (let partition = 0; partition < stage.numPartitions; partition++) if (!hasOutput(job!, stage, partition)) set.add(partition);
      missing.set(stage.stageId, set);
    }
    return missing;
  }

  private checkStep(commands: Command[], missingBefore: Map<number, Set<number>>): void {
    const executors = new Map(executorViews(this.state).map((view) => [view.executorId, view]));
    for (const executor of executors.values()) {
      if (executor.runningTasks > executor.slots) this.violation(`executor ${executor.executorId} runs ${executor.runningTasks} > ${executor.slots} tasks`);
    }
    for (const command of commands) {
      if (command.type === "launchTask") {
        if (!executors.get(command.executorId)?.alive) this.violation(`launch ${command.task.taskId} on dead executor ${command.executorId}`);
        for (const read of command.task.shuffleReads) {
          if (read.locations.length !== read.numMaps) this.violation(`launch ${command.task.taskId} before shuffle ${read.shuffleId} is complete`);
        }
      }
      if (command.type === "emitEvent" && command.event.type === "stageSubmitted") {
        const before = missingBefore.get(command.event.stageId);
        const extra = before ? command.event.partitions.filter((partition) => !before.has(partition)) : [];
        if (extra.length > 0) this.violation(`stage ${command.event.stageId} attempt ${command.event.attempt} recomputes partitions that had output: ${extra}`);
      }
    }
    const job = this.state.jobs.get(JOB_ID);
    const maxAttempts = job?.conf["ballast.stage.maxConsecutiveAttempts"] ?? 0;
    for (const stage of job?.stages ?? []) {
      if (stage.consecutiveFailures > maxAttempts) this.violation(`stage ${stage.stageId} failed ${stage.consecutiveFailures} times in a row`);
    }
  }

  private checkOutcome(view: JobView): void {
    if (view.status === "running") {
      this.violation(`job still running at ${this.now}ms`);
      return;
    }
    if (view.status === "failed") {
      if (!view.error?.message || !["stageFailure", "userError", "executorError"].includes(view.error.kind)) {
        this.violation(`job failed without a stated cause: ${JSON.stringify(view.error)}`);
      }
      return;
    }
    const resultPartitions = this.options.plan.datasets.find((dataset) => dataset.id === this.options.plan.finalDatasetId)!.numPartitions;
    const expected = Array.from({ length: resultPartitions }, (_, partition) => Uint8Array.of(partition % 256));
    if (JSON.stringify(view.result?.partitionRecords) !== JSON.stringify(expected) || view.result?.count !== resultPartitions) {
      this.violation("job succeeded with a wrong result");
    }
    const bound = view.stages.length * (1 + this.faultsInjected) * this.state.conf["ballast.stage.maxConsecutiveAttempts"];
    if (view.stats.stageAttempts > bound) this.violation(`${view.stats.stageAttempts} stage attempts > bound ${bound}`);
  }

  private violation(message: string): void {
    this.violations.push(`seed ${this.options.seed} at ${this.now}ms: ${message}`);
  }
}
