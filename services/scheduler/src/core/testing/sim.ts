/**
 * A seeded simulated cluster driving the real scheduler core: nodes with an
 * executor and a shuffle service each, simulated time, and random faults:
 * executor deaths, node losses (one or two at once, found by the probe),
 * corrupt blocks, stopped executors (SIGSTOP), decommissions with fast or
 * too-slow migration, a node whose tasks always fail (exclusion), and
 * scheduler crashes (state rebuilt by replaying the inputs, which must give
 * the very same state, then recoveryStarted and executors reconnecting).
 * Invariants (simChecks.ts) are checked after every step; a seed reproduces exactly.
 */
import { isDeepStrictEqual } from "node:util";
import { step } from "../step.js";
import { createState, type SchedulerState } from "../state.js";
import type { Command, FetchFailure, Input, JobView, Plan, TaskFailure, TaskLaunch } from "../types.js";
import { jobView } from "../views.js";
import { SimChecks } from "./simChecks.js";

export type FaultKind = "executorKill" | "nodeLoss" | "twoNodesLost" | "corruptBlock" | "sigstop" | "decommission" | "schedulerCrash";

export interface SimOptions {
  seed: number;
  plan: Plan;
  nodes?: number;
  slots?: number;
  /** Faults injected at random times in the first `faultWindowMs`, drawn from `faultKinds`. */
  faults?: number;
  faultKinds?: FaultKind[];
  faultWindowMs?: number;
  userErrorRate?: number;
  /** Node n0 fails every task it runs (a bad disk). */
  badNode?: boolean;
  /** Anything but success is a violation (e.g. decommission-only schedules). */
  mustSucceed?: boolean;
  conf?: Record<string, string>;
  maxTimeMs?: number;
}

export interface SimResult {
  view: JobView;
  violations: string[];
  faultsInjected: number;
  faultCounts: Partial<Record<FaultKind, number>>;
  steps: number;
  endTimeMs: number;
  /** Every command, for determinism checks. */
  commands: Command[];
}

interface Service {
  address: string;
  up: boolean;
  /** "<shuffleId>/<mapIndex>/<attempt>" -> corrupt? */
  blocks: Map<string, boolean>;
}

interface SimNode {
  index: number;
  nodeId: string;
  generation: number;
  executorId: string;
  executorUp: boolean;
  paused: boolean;
  /** The executor's stream to the scheduler is open. */
  session: boolean;
  service: Service;
  /** Updates waiting for a session (resent after re-registration). */
  buffered: Input[];
  /** What the stopped process will do when continued. */
  deferred: Array<() => void>;
  decommissioning: boolean;
  /** Its disk is gone: it comes back as a new machine (new shuffle address). */
  replaced: boolean;
}

const JOB_ID = "sim";
const TICK_MS = 100;
const HEARTBEAT_MS = 500;
const DEFAULT_FAULTS: FaultKind[] = ["executorKill", "nodeLoss", "corruptBlock"];

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
  private readonly baseConf: Record<string, string>;
  private state: SchedulerState;
  private readonly nodes: SimNode[] = [];
  private readonly services = new Map<string, Service>();
  private readonly running = new Map<string, { node: SimNode; executorId: string; task: TaskLaunch }>();
  private readonly queue: Array<{ at: number; seq: number; run: () => void }> = [];
  private readonly inputs: Array<{ input: Input; now: number }> = [];
  private readonly commands: Command[] = [];
  private readonly decommissionedAddresses = new Set<string>();
  /** Fetch failures ("<shuffleId>/<mapIndex>/<address>") reported before / while their node was decommissioning. */
  private readonly fetchFailures = { plain: new Set<string>(), decommission: new Set<string>() };
  private readonly faultCounts: Partial<Record<FaultKind, number>> = {};
  private readonly checks: SimChecks;
  private readonly slots: number;
  private now = 0;
  private seq = 0;
  private steps = 0;
  private faultsInjected = 0;
  private schedulerDown = false;
  private epoch = 1;

  constructor(private readonly options: SimOptions) {
    this.random = prng(options.seed);
    this.slots = options.slots ?? 2;
    this.baseConf = {
      "ballast.executor.heartbeatTimeout": "2s",
      "ballast.executor.heartbeatInterval": "500ms",
      "ballast.scheduler.resubmitDelay": "200ms",
      "ballast.scheduler.recovery.executorReconnectTimeout": "3s",
      "ballast.excludeOnFailure.timeout": "5s",
      ...options.conf,
    };
    this.state = createState(this.baseConf);
    this.checks = new SimChecks(options.seed, JOB_ID, () => this.now, (address, shuffleId, mapIndex, attempt) => this.reallyLost(address, shuffleId, mapIndex, attempt));
    for (let index = 0; index < (options.nodes ?? 3); index++) {
      const service = this.newService(`10.0.0.${index}:7337`);
      this.nodes.push({ index, nodeId: `n${index}`, generation: 0, executorId: `e${index}`, executorUp: true, paused: false, session: true, service, buffered: [], deferred: [], decommissioning: false, replaced: false });
    }
  }

  run(): SimResult {
    for (const node of this.nodes) this.register(node);
    this.send({ type: "jobSubmitted", jobId: JOB_ID, plan: this.options.plan, bundleDigest: "sha256:sim", conf: {}, traceparent: "" });
    this.at(TICK_MS, () => this.tickLoop());
    this.at(HEARTBEAT_MS, () => this.heartbeatLoop());
    const kinds = this.options.faultKinds ?? DEFAULT_FAULTS;
    for (let i = 0; i < (this.options.faults ?? 3); i++) {
      const kind = kinds[Math.floor(this.random() * kinds.length)]!;
      this.at(this.random() * (this.options.faultWindowMs ?? 1500), () => this.inject(kind));
    }
    const maxTimeMs = this.options.maxTimeMs ?? 600_000;
    while (this.queue.length > 0 && this.jobRunning() && this.now <= maxTimeMs) {
      const event = this.queue.shift()!;
      this.now = event.at;
      event.run();
    }
    const view = jobView(this.state, JOB_ID)!;
    if (this.options.mustSucceed && view.status !== "succeeded") this.checks.violation(`the job must succeed but ${view.status}: ${view.error?.message}`);
    this.checks.outcome(view, this.options.plan, this.faultsInjected, this.state.conf["ballast.stage.maxConsecutiveAttempts"], this.fetchFailures);
    return {
      view, violations: this.checks.violations, faultsInjected: this.faultsInjected, faultCounts: this.faultCounts,
      steps: this.steps, endTimeMs: this.now, commands: this.commands,
    };
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
    if (!this.schedulerDown) this.send({ type: "tick" });
    this.at(TICK_MS, () => this.tickLoop());
  }

  private heartbeatLoop(): void {
    for (const node of this.nodes) {
      if (node.executorUp && !node.paused && node.session) this.send({ type: "heartbeat", executorId: node.executorId, runningTaskIds: this.tasksOf(node) });
    }
    this.at(HEARTBEAT_MS, () => this.heartbeatLoop());
  }

  private tasksOf(node: SimNode): string[] {
    return [...this.running].filter(([, entry]) => entry.executorId === node.executorId).map(([taskId]) => taskId);
  }

  // ---------------------------------------------------------------- faults

  private inject(kind: FaultKind): void {
    const candidates = this.nodes.filter((node) => node.executorUp && !node.paused && !node.decommissioning);
    const node = candidates[Math.floor(this.random() * candidates.length)];
    if ((!node && kind !== "schedulerCrash") || (this.schedulerDown && kind === "decommission")) return;
    this.faultsInjected++;
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1;
    switch (kind) {
      case "executorKill":
        return this.kill(node!, false);
      case "nodeLoss":
        return this.kill(node!, true);
      case "twoNodesLost": {
        const other = candidates.filter((candidate) => candidate !== node)[Math.floor(this.random() * (candidates.length - 1))];
        this.kill(node!, true);
        if (other) this.kill(other, true);
        return;
      }
      case "corruptBlock":
        return this.corruptBlock(node!);
      case "sigstop":
        return this.pause(node!);
      case "decommission":
        return this.decommission(node!);
      case "schedulerCrash":
        return this.crashScheduler();
    }
  }

  /** The executor process dies; with `nodeLost` its shuffle service and data too. It comes back as a new executor id. */
  private kill(node: SimNode, nodeLost: boolean, replaceAfter = 500 + this.random() * 3000): void {
    if (!node.executorUp) return;
    node.executorUp = false;
    node.paused = false;
    node.deferred = [];
    node.buffered = [];
    for (const taskId of this.tasksOf(node)) this.running.delete(taskId);
    if (nodeLost) {
      node.service.up = false;
      node.service.blocks.clear();
      node.replaced = true;
    }
    // Half the time the stream breaks visibly; otherwise only the heartbeat timeout tells.
    if (node.session && this.random() < 0.5) this.send({ type: "executorLost", executorId: node.executorId, reason: "stream closed" });
    node.session = false;
    this.at(replaceAfter, () => this.restart(node));
  }

  private restart(node: SimNode): void {
    if (node.executorUp) return;
    node.generation++;
    node.executorId = `e${node.index}.${node.generation}`;
    if (node.replaced) {
      // A fresh machine reusing the node id: new shuffle service, new address.
      node.decommissioning = false;
      node.replaced = false;
      node.service = this.newService(`10.${node.generation}.0.${node.index}:7337`);
    }
    node.service.up = true;
    node.executorUp = true;
    this.register(node);
  }

  private corruptBlock(node: SimNode): void {
    const keys = [...node.service.blocks.keys()];
    if (keys.length > 0) node.service.blocks.set(keys[Math.floor(this.random() * keys.length)]!, true);
  }

  /** SIGSTOP, then SIGCONT: it may be declared lost meanwhile and must then re-register. */
  private pause(node: SimNode): void {
    node.paused = true;
    this.at(1000 + this.random() * 3000, () => {
      if (!node.paused) return;
      node.paused = false;
      if (!node.session) this.reconnect(node);
      for (const resume of node.deferred.splice(0)) resume();
    });
  }

  private decommission(node: SimNode): void {
    node.decommissioning = true;
    this.decommissionedAddresses.add(node.service.address);
    const deadlineMs = this.now + 1000 + Math.round(this.random() * 3000);
    this.send({ type: "decommissionNode", nodeId: node.nodeId, deadlineMs, reason: "scale-in" });
    // The node goes away some time after its deadline; a fresh one takes its id.
    this.at(deadlineMs - this.now + this.random() * 1000, () => this.kill(node, true, 300 + this.random() * 1000));
  }

  private migrate(node: SimNode, peers: Array<{ nodeId: string; shuffleAddress: string }>): void {
    const source = node.service;
    const keys = [...source.blocks.keys()];
    const perBlockMs = this.random() < 0.6 ? 20 + this.random() * 40 : 800;
    const started = this.now;
    let migrated = 0;
    const next = (i: number): void => {
      if (!source.up) return; // the node died mid-migration: no migrationFinished
      if (i === keys.length) {
        this.toScheduler({ type: "migrationFinished", nodeId: node.nodeId, migrated, failed: keys.length - migrated, bytes: migrated * 8, durationMs: this.now - started, error: "" });
        return;
      }
      const peer = peers[i % peers.length]!;
      const target = this.services.get(peer.shuffleAddress);
      const key = keys[i]!;
      if (target?.up && source.blocks.has(key)) {
        target.blocks.set(key, source.blocks.get(key)!);
        migrated++;
        const [shuffleId, mapIndex, attempt] = key.split("/");
        this.toScheduler({ type: "mapOutputMigrated", fromNodeId: node.nodeId, shuffleId: shuffleId!, mapIndex: Number(mapIndex), attempt: Number(attempt), newAddress: peer.shuffleAddress, newNodeId: peer.nodeId, bytes: 8 });
      }
      this.at(perBlockMs, () => next(i + 1));
    };
    this.at(perBlockMs, () => next(0));
  }

  /** The scheduler dies; a new one replays the inputs (which must rebuild the same state) and takes over. */
  private crashScheduler(): void {
    if (this.schedulerDown) return;
    this.schedulerDown = true;
    const replayed = createState(this.baseConf);
    for (const { input, now } of this.inputs) step(replayed, input, now);
    if (!isDeepStrictEqual(replayed, this.state)) this.checks.violation("the state rebuilt by replaying the inputs differs from the state before the crash");
    this.state = replayed;
    for (const node of this.nodes) node.session = false;
    this.at(200 + this.random() * 1500, () => {
      this.schedulerDown = false;
      this.send({ type: "recoveryStarted", epoch: ++this.epoch });
      for (const node of this.nodes) this.at(this.random() * 500, () => this.reconnect(node));
    });
  }

  // ------------------------------------------------------ executor side

  private register(node: SimNode): void {
    node.session = !this.schedulerDown;
    if (!node.session) return;
    this.send({
      type: "executorRegistered",
      executor: { executorId: node.executorId, nodeId: node.nodeId, host: node.nodeId, slots: this.slots, shuffleAddress: node.service.address, runningTaskIds: this.tasksOf(node) },
    });
  }

  /** Re-registers with its running tasks, then resends what it could not deliver. */
  private reconnect(node: SimNode): void {
    if (!node.executorUp || node.paused || node.session || this.schedulerDown) return;
    this.register(node);
    for (const input of node.buffered.splice(0)) this.send(input);
  }

  /** An executor's message: lost with the process, held while stopped, buffered without a session. */
  private fromExecutor(node: SimNode, executorId: string, input: Input): void {
    if (!node.executorUp || node.executorId !== executorId) return;
    if (node.paused) node.deferred.push(() => this.fromExecutor(node, executorId, input));
    else if (!node.session || this.schedulerDown) node.buffered.push(input);
    else this.send(input);
  }

  /** Inputs from the shell's own work (probes, migration): dropped while no scheduler runs. */
  private toScheduler(input: Input): void {
    if (!this.schedulerDown) this.send(input);
  }

  // ------------------------------------------------------------ the steps

  private send(input: Input): Command[] {
    const before = this.checks.before(this.state);
    this.inputs.push({ input, now: this.now });
    const commands = step(this.state, input, this.now);
    this.steps++;
    this.commands.push(...commands);
    this.checks.after(this.state, commands, before);
    for (const command of commands) this.carryOut(command);
    return commands;
  }

  private carryOut(command: Command): void {
    const node = "executorId" in command ? this.nodes.find((candidate) => candidate.executorId === command.executorId) : undefined;
    switch (command.type) {
      case "launchTask":
        if (!node?.executorUp) return; // the scheduler does not know yet: the task vanishes
        if (!node.session) this.checks.violation(`launch ${command.task.taskId} to ${node.executorId}, which has not (re-)registered`);
        this.running.set(command.task.taskId, { node, executorId: node.executorId, task: command.task });
        this.at(50 + this.random() * 350, () => this.finishTask(command.task.taskId));
        return;
      case "killTask": {
        const entry = this.running.get(command.taskId);
        if (!entry || entry.executorId !== command.executorId) return;
        this.running.delete(command.taskId);
        this.at(1, () => this.fromExecutor(entry.node, entry.executorId, { type: "taskUpdate", executorId: entry.executorId, taskId: command.taskId, state: "killed" }));
        return;
      }
      case "closeSession":
        if (!node) return;
        node.session = false;
        this.at(50 + this.random() * 250, () => this.reconnect(node));
        return;
      case "probeShuffleService":
        this.at(30, () => {
          if (this.services.get(command.shuffleAddress)?.up === false) {
            this.toScheduler({ type: "shuffleServiceLost", nodeId: command.nodeId, shuffleAddress: command.shuffleAddress, reason: "connection refused" });
          }
        });
        return;
      case "migrateShuffle": {
        const source = this.nodes.find((candidate) => candidate.nodeId === command.nodeId);
        if (source?.service.address === command.shuffleAddress) this.migrate(source, command.peers);
        return;
      }
      default:
        return;
    }
  }

  private finishTask(taskId: string): void {
    const entry = this.running.get(taskId);
    if (!entry) return;
    const { node, executorId, task } = entry;
    if (node.paused) {
      node.deferred.push(() => this.finishTask(taskId));
      return;
    }
    this.running.delete(taskId);
    if ((this.options.badNode && node.index === 0) || this.random() < (this.options.userErrorRate ?? 0)) {
      return this.report(node, executorId, taskId, { kind: "userError", message: "Error: disk I/O error", stack: "at job.ts:1" });
    }
    const fetch = this.readShuffles(task);
    if (fetch) {
      const key = `${fetch.shuffleId}/${fetch.mapIndex}/${fetch.shuffleAddress}`;
      this.fetchFailures[this.decommissionedAddresses.has(fetch.shuffleAddress) ? "decommission" : "plain"].add(key);
      return this.report(node, executorId, taskId, { kind: "fetchFailed", message: "fetch failed after retries", stack: "", fetch });
    }
    if (task.shuffleWrite) this.succeedMapTask(node, executorId, task);
    else this.succeedResultTask(node, executorId, task);
  }

  /** The first unreadable block, as the executor would report it after its retries. */
  private readShuffles(task: TaskLaunch): FetchFailure | undefined {
    for (const read of task.shuffleReads) {
      for (const location of read.locations) {
        const base = { shuffleId: read.shuffleId, mapIndex: location.mapIndex, mapAttempt: location.attempt, shuffleAddress: location.shuffleAddress, nodeId: location.nodeId };
        const service = this.services.get(location.shuffleAddress);
        if (!service?.up) return { ...base, serviceUnreachable: true };
        if (service.blocks.get(`${read.shuffleId}/${location.mapIndex}/${location.attempt}`) !== false) return { ...base, serviceUnreachable: false };
      }
    }
    return undefined;
  }

  private succeedMapTask(node: SimNode, executorId: string, task: TaskLaunch): void {
    const write = task.shuffleWrite!;
    if (!node.service.up) return this.report(node, executorId, task.taskId, { kind: "executorError", message: "shuffle service unavailable", stack: "" });
    node.service.blocks.set(`${write.shuffleId}/${task.partition}/${task.attempt}`, false);
    this.fromExecutor(node, executorId, {
      type: "taskUpdate", executorId, taskId: task.taskId, state: "succeeded",
      mapStatus: {
        shuffleId: write.shuffleId, mapIndex: task.partition, attempt: task.attempt, shuffleAddress: node.service.address, nodeId: node.nodeId,
        partitionSizes: new Array<number>(write.numReducePartitions).fill(8),
      },
    });
  }

  private succeedResultTask(node: SimNode, executorId: string, task: TaskLaunch): void {
    if (task.plan.action === "saveAsTextFile") {
      if (node.paused || !node.session || this.schedulerDown) {
        // The commit request cannot reach the scheduler now: try again later.
        this.running.set(task.taskId, { node, executorId, task });
        this.at(200, () => this.finishTask(task.taskId));
        return;
      }
      const decision = this.send({ type: "commitRequested", taskId: task.taskId, requestId: `commit-${task.taskId}` }).find((command) => command.type === "commitDecision");
      if (decision?.type !== "commitDecision" || !decision.allowed) return this.report(node, executorId, task.taskId, { kind: "commitDenied", message: "commit denied", stack: "" });
    }
    this.fromExecutor(node, executorId, { type: "taskUpdate", executorId, taskId: task.taskId, state: "succeeded", records: Uint8Array.of(task.partition % 256), count: 1 });
  }

  private report(node: SimNode, executorId: string, taskId: string, failure: TaskFailure): void {
    this.fromExecutor(node, executorId, { type: "taskUpdate", executorId, taskId, state: "failed", failure });
  }

  // ---------------------------------------------------------------- truth

  private newService(address: string): Service {
    const service: Service = { address, up: true, blocks: new Map() };
    this.services.set(address, service);
    return service;
  }

  /** Whether an output the scheduler unregistered was really unreadable (or on a node being decommissioned). */
  private reallyLost(address: string, shuffleId: string, mapIndex: number, attempt: number): boolean {
    const service = this.services.get(address);
    if (!service?.up || this.decommissionedAddresses.has(address)) return true;
    return service.blocks.get(`${shuffleId}/${mapIndex}/${attempt}`) !== false;
  }
}
