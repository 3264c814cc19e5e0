/**
 * The simulated cluster's plumbing: its state (nodes, shuffle services,
 * running tasks, simulated time), the event queue, the link to the scheduler
 * core (every input goes through `send`, which checks the invariants, and
 * every command is carried out here), shuffle migration, and the truth about
 * which map outputs are really lost. Tasks' execution (simExecutors.ts) and
 * faults (simFaults.ts) build on it; sim.ts runs it.
 */
import { step } from "../src/core/step.js";
import { createState, type CachedPartitionState, type SchedulerState } from "../src/core/state.js";
import type { CachedPartitionRef } from "@ballast/common/domain/tasks";
import type { Command, Input, TaskLaunch, TaskReport } from "../src/core/types.js";
import { SimChecks } from "./simChecks.js";
import { JOB_ID, prng, type FaultKind, type Service, type SimNode, type SimOptions } from "./simModel.js";

const MAX_UPDATE_GATHER_MS = 30;

export abstract class SimCluster {
  protected readonly random: () => number;
  protected readonly baseConf: Record<string, string>;
  protected state: SchedulerState;
  protected readonly nodes: SimNode[] = [];
  protected readonly services = new Map<string, Service>();
  protected readonly running = new Map<string, { node: SimNode; executorId: string; task: TaskLaunch }>();
  protected readonly queue: Array<{ at: number; seq: number; run: () => void }> = [];
  protected readonly inputs: Array<{ input: Input; now: number }> = [];
  protected readonly commands: Command[] = [];
  protected readonly decommissionedAddresses = new Set<string>();
  /** Supervised driver processes: executor id -> the applications whose driver it runs (they die with the process). */
  protected readonly drivers = new Map<string, Set<string>>();
  /** The latest attempt launched per application (a crash reports it). */
  protected readonly driverAttempts = new Map<string, number>();
  /** Fetch failures ("<shuffleId>/<mapIndex>/<address>") reported before / while their node was decommissioning. */
  protected readonly fetchFailures = { plain: new Set<string>(), decommission: new Set<string>() };
  protected readonly faultCounts: Partial<Record<FaultKind, number>> = {};
  /** Task updates an executor gathers for its next session message (gatherUpdate). */
  private readonly pendingUpdates = new Map<SimNode, { executorId: string; reports: TaskReport[] }>();
  protected readonly checks: SimChecks;
  protected readonly slots: number;
  protected now = 0;
  protected seq = 0;
  protected steps = 0;
  protected faultsInjected = 0;
  protected schedulerDown = false;
  protected epoch = 1;

  constructor(protected readonly options: SimOptions) {
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

  /** The executor runs the task to its end (simExecutors.ts). */
  protected abstract finishTask(taskId: string): void;

  /** How long a launched task runs (simExecutors.ts). */
  protected abstract taskDurationMs(): number;

  // ----------------------------------------------------------- event queue

  protected at(delayMs: number, run: () => void): void {
    const event = { at: this.now + Math.max(0, Math.round(delayMs)), seq: this.seq++, run };
    let index = this.queue.length;
    while (index > 0 && this.queue[index - 1]!.at > event.at) index--;
    this.queue.splice(index, 0, event);
  }

  protected jobRunning(): boolean {
    return this.state.jobs.get(JOB_ID)?.status === "running";
  }

  protected tasksOf(node: SimNode): string[] {
    return [...this.running].filter(([, entry]) => entry.executorId === node.executorId).map(([taskId]) => taskId);
  }

  // ------------------------------------------------- link to the scheduler

  protected register(node: SimNode): void {
    node.session = !this.schedulerDown;
    if (!node.session) return;
    const cachedPartitions = this.memoryHeldBy(node.executorId);
    const cachedOnDisk = node.service.up ? this.diskHeldBy(node) : undefined;
    this.send({
      type: "executorRegistered",
      executor: {
        executorId: node.executorId, nodeId: node.nodeId, host: node.nodeId, slots: this.slots, ...(this.options.queuedSlots && { queuedSlots: this.options.queuedSlots }), shuffleAddress: node.service.address, runningTaskIds: this.tasksOf(node),
        cachedPartitions, ...(cachedOnDisk && { cachedOnDisk }), runningDrivers: [...(this.drivers.get(node.executorId) ?? [])],
      },
    });
    this.checkReconciled((entry) => entry.memoryExecutorId === node.executorId, cachedPartitions, `the memory of ${node.executorId}`);
    for (const applicationId of this.drivers.get(node.executorId) ?? []) {
      if (this.state.applications.get(applicationId)?.driver?.executorId !== node.executorId) this.checks.violation(`${node.executorId} still runs a driver of ${applicationId} placed elsewhere after registering`);
    }
    if (cachedOnDisk) this.checkReconciled((entry) => entry.diskShuffleAddress === node.service.address, cachedOnDisk, `shuffle service ${node.service.address}`);
  }

  /** What the executor truly holds in memory (simExecutors.ts), as its registration reports it. */
  protected abstract memoryHeldBy(executorId: string): CachedPartitionRef[];
  /** What the node's shuffle service truly holds of cached datasets, as a registration reports it. */
  protected abstract diskHeldBy(node: SimNode): CachedPartitionRef[];

  /** Right after a registration, the registry names no copy at the reporting holder that it did not report. */
  private checkReconciled(at: (entry: CachedPartitionState) => boolean, reported: CachedPartitionRef[], holder: string): void {
    const held = new Set(reported.map((ref) => `${ref.applicationId}/${ref.cacheKey}/${ref.partition}`));
    for (const [key, partitions] of this.state.cache) {
      for (const [partition, entry] of partitions) {
        if (at(entry) && !held.has(`${key}/${partition}`)) this.checks.violation(`cached ${key}/${partition} registered in ${holder}, which reported it does not hold it`);
      }
    }
  }

  /** Re-registers with its running tasks, then resends what it could not deliver. */
  protected reconnect(node: SimNode): void {
    if (!node.executorUp || node.paused || node.session || this.schedulerDown) return;
    this.register(node);
    for (const input of node.buffered.splice(0)) this.send(input);
  }

  /** An executor's message: lost with the process, held while stopped, buffered without a session. */
  protected fromExecutor(node: SimNode, executorId: string, input: Input): void {
    if (!node.executorUp || node.executorId !== executorId) return;
    if (input.type === "taskUpdate") this.gatherUpdate(node, executorId, input);
    else this.deliver(node, executorId, input);
  }

  private deliver(node: SimNode, executorId: string, input: Input): void {
    if (!node.executorUp || node.executorId !== executorId) return;
    if (node.paused) node.deferred.push(() => this.deliver(node, executorId, input));
    else if (!node.session || this.schedulerDown) node.buffered.push(input);
    else this.send(input);
  }

  /**
   * As the executor's session: the task updates of one moment go as one message, which the
   * scheduler takes as one input (a "taskUpdates" batch when there are several).
   */
  private gatherUpdate(node: SimNode, executorId: string, update: Extract<Input, { type: "taskUpdate" }>): void {
    const { type: _type, executorId: _executorId, ...report } = update;
    const pending = this.pendingUpdates.get(node);
    if (pending?.executorId === executorId) return void pending.reports.push(report);
    const batch = { executorId, reports: [report] };
    this.pendingUpdates.set(node, batch);
    // A busy executor's turn ends a while later: within it, more of its tasks finish and join the message.
    this.at(this.random() * MAX_UPDATE_GATHER_MS, () => {
      if (this.pendingUpdates.get(node) === batch) this.pendingUpdates.delete(node);
      const { reports } = batch;
      this.deliver(node, executorId, reports.length === 1 ? { type: "taskUpdate", executorId, ...reports[0]! } : { type: "taskUpdates", executorId, updates: reports });
    });
  }

  /** Inputs from the shell's own work (probes, migration): dropped while no scheduler runs. */
  protected toScheduler(input: Input): void {
    if (!this.schedulerDown) this.send(input);
  }

  protected send(input: Input): Command[] {
    const before = this.checks.before(this.state, input);
    this.inputs.push({ input, now: this.now });
    const commands = step(this.state, input, this.now);
    this.steps++;
    this.commands.push(...commands);
    this.checks.after(this.state, commands, before);
    for (const command of commands) this.carryOut(command);
    return commands;
  }

  protected carryOut(command: Command): void {
    const node = "executorId" in command ? this.nodes.find((candidate) => candidate.executorId === command.executorId) : undefined;
    switch (command.type) {
      case "launchTask":
        if (!node?.executorUp) return; // the scheduler does not know yet: the task vanishes
        if (!node.session) this.checks.violation(`launch ${command.task.taskId} to ${node.executorId}, which has not (re-)registered`);
        this.running.set(command.task.taskId, { node, executorId: node.executorId, task: command.task });
        this.at(this.taskDurationMs(), () => this.finishTask(command.task.taskId));
        return;
      case "killTask": {
        const entry = this.running.get(command.taskId);
        if (!entry || entry.executorId !== command.executorId) return;
        this.running.delete(command.taskId);
        this.at(1, () => this.fromExecutor(entry.node, entry.executorId, { type: "taskUpdate", executorId: entry.executorId, taskId: command.taskId, state: "killed" }));
        return;
      }
      case "revokeTask":
        return this.answerRevoke(node, command.executorId, command.taskId);
      case "launchDriver":
        if (!node?.executorUp) return; // the process is gone: its registration will not list it
        if (!node.session) this.checks.violation(`driver of ${command.applicationId} launched on ${node.executorId}, which has not (re-)registered`);
        if (!this.drivers.has(node.executorId)) this.drivers.set(node.executorId, new Set());
        this.drivers.get(node.executorId)!.add(command.applicationId);
        this.driverAttempts.set(command.applicationId, command.attempt);
        return;
      case "stopDriver":
        if (node) this.drivers.get(node.executorId)?.delete(command.applicationId);
        return;
      case "closeSession":
        if (!node) return;
        node.session = false;
        this.at(50 + this.random() * 250, () => this.reconnect(node));
        return;
      case "probeShuffleService":
        this.at(30, () => {
          if (this.services.get(command.shuffleAddress)?.up === false) {
            this.toScheduler({ type: "shuffleServiceLost", nodeId: command.nodeId, shuffleAddress: command.shuffleAddress, reason: "connection refused" });
          } else {
            this.toScheduler({ type: "shuffleServiceAnswered", nodeId: command.nodeId, shuffleAddress: command.shuffleAddress });
          }
        });
        return;
      case "migrateShuffle": {
        const source = this.nodes.find((candidate) => candidate.nodeId === command.nodeId);
        if (source?.service.address === command.shuffleAddress) this.migrate(source, command.peers);
        return;
      }
      case "commitJobOutput":
        // The shell promotes the parts; lost with a crashed scheduler (the next leader asks again).
        this.at(20, () => this.toScheduler({ type: "jobOutputCommitted", jobId: command.jobId }));
        return;
      default:
        return;
    }
  }

  /**
   * Take-back: the executor drops the task unstarted or finds it started, at random (a sim task
   * runs from its launch, so "revoked" stands for the queued ones); one that ended answers started.
   */
  private answerRevoke(node: SimNode | undefined, executorId: string, taskId: string): void {
    if (!node) return;
    const revoked = this.running.get(taskId)?.executorId === executorId && this.random() < 0.5;
    if (revoked) this.running.delete(taskId);
    const answer: Input = { type: "revokeAnswered", executorId, revokedTaskIds: revoked ? [taskId] : [], startedTaskIds: revoked ? [] : [taskId] };
    this.at(1, () => this.fromExecutor(node, executorId, answer));
  }

  // ------------------------------------------------------------- migration

  /** The node's shuffle service streams its blocks to the peers, fast or too slowly. */
  protected migrate(node: SimNode, peers: Array<{ nodeId: string; shuffleAddress: string }>): void {
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

  // ---------------------------------------------------------------- truth

  protected newService(address: string): Service {
    const service: Service = { address, up: true, blocks: new Map() };
    this.services.set(address, service);
    return service;
  }

  /** Whether an output the scheduler unregistered was really unreadable (or on a node being decommissioned). */
  protected reallyLost(address: string, shuffleId: string, mapIndex: number, attempt: number): boolean {
    const service = this.services.get(address);
    if (!service?.up || this.decommissionedAddresses.has(address)) return true;
    return service.blocks.get(`${shuffleId}/${mapIndex}/${attempt}`) !== false;
  }
}
