/**
 * A seeded simulated cluster driving the real scheduler core: nodes with an
 * executor and a shuffle service each, simulated time, and random faults:
 * executor deaths, node losses (one or two at once, found by the probe),
 * corrupt blocks, stopped executors (SIGSTOP), decommissions with fast or
 * too-slow migration, a node whose tasks always fail (exclusion), and
 * scheduler crashes (state rebuilt by replaying the inputs, which must give
 * the very same state, then recoveryStarted and executors reconnecting).
 * Straggling tasks on a decommissioning node get speculative copies, and
 * with ballast.speculation.enabled (some scenarios) slow tasks anywhere do.
 * The job is action #1 of a registered application, whose record must show
 * the job as it ended, whatever crashed on the way.
 * Invariants (simChecks.ts) are checked after every step; a seed reproduces exactly.
 * The cluster model is in simCluster.ts, task execution in simExecutors.ts,
 * faults in simFaults.ts.
 */
import type { Command, Plan } from "../src/core/types.js";
import { applicationView } from "../src/core/applications.js";
import { jobView } from "../src/core/views.js";
import { DEFAULT_FAULTS, HEARTBEAT_MS, JOB_ID, SIM_APP, TICK_MS, WARM_UP_JOB_ID, type SimOptions, type SimResult } from "./simModel.js";
import { SimFaults } from "./simFaults.js";

export type { FaultKind, SimOptions, SimResult } from "./simModel.js";

export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation extends SimFaults {
  run(): SimResult {
    for (const node of this.nodes) this.register(node);
    const persisted = withPersistedDataset(this.options.plan, this.options.seed, this.options.warmUp === true);
    // Detached: the core supervises its driver through every fault (a high limit: the job's outcome is what the other checks judge).
    this.send({ type: "applicationRegistered", applicationId: SIM_APP, name: "sim", user: "", bundleDigest: "sha256:sim", args: [], conf: { "ballast.driver.maxFailures": "1000" }, detached: true });
    this.at(TICK_MS, () => this.tickLoop());
    this.at(this.random() * (this.options.faultWindowMs ?? 1500), () => this.crashDriver());
    this.at(HEARTBEAT_MS, () => this.heartbeatLoop());
    const actionIndex = this.options.warmUp ? this.warmUp(persisted) : 0;
    const plan = { ...persisted, driver: { actionIndex, recordedResults: "", callSite: "sim.ts:1" } };
    this.send({ type: "jobSubmitted", jobId: JOB_ID, plan, bundleDigest: "sha256:sim", conf: {}, traceparent: "", applicationId: SIM_APP });
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
    const result: SimResult = {
      view, violations: this.checks.violations, faultsInjected: this.faultsInjected, faultCounts: this.faultCounts,
      steps: this.steps, endTimeMs: this.now, commands: this.commands, copies: copiesIn(this.commands),
      cachedPartitions: [...this.state.cache.values()].reduce((sum, partitions) => sum + partitions.size, 0),
      cachedLostMidJob: this.commands.filter((command) => command.type === "spanEvent" && command.name === "cachedPartitionLost").length,
    };
    this.outliveJobRetention(); // after the figures: executors go quiet meanwhile (they would be lost)
    this.checks.applicationRecord(applicationView(this.state, SIM_APP), view, actionIndex);
    if ((applicationView(this.state, SIM_APP)?.driver?.attempt ?? 0) < 1) this.checks.violation("the detached application's driver was never placed");
    return result;
  }

  /**
   * Action #0 of the application runs first without faults and caches the
   * persisted dataset whole, so the checked job (action #1) skips the stages
   * below it; its faults then lose cached partitions while it reads them.
   * Returns the checked job's action index.
   */
  private warmUp(plan: Plan): number {
    const driver = { actionIndex: 0, recordedResults: "", callSite: "sim.ts:0" };
    this.faultFree = true;
    this.send({ type: "jobSubmitted", jobId: WARM_UP_JOB_ID, plan: { ...plan, driver }, bundleDigest: "sha256:sim", conf: {}, traceparent: "", applicationId: SIM_APP });
    while (this.queue.length > 0 && this.state.jobs.get(WARM_UP_JOB_ID)?.status === "running") {
      const event = this.queue.shift()!;
      this.now = event.at;
      event.run();
    }
    this.faultFree = false;
    if (this.state.jobs.get(WARM_UP_JOB_ID)?.status !== "succeeded") this.checks.violation("the fault-free warm-up action did not succeed");
    return 1;
  }

  /** Time passes beyond ballast.scheduler.jobRetention: the ended job leaves the state, its application's record stays. */
  private outliveJobRetention(): void {
    if (this.schedulerDown) return;
    this.now += this.state.conf["ballast.scheduler.jobRetention"] + TICK_MS;
    this.send({ type: "tick" });
  }

  /** The driver process exits with an error: its executor reports it, the core places it again. */
  private crashDriver(): void {
    const node = this.nodes.find((candidate) => candidate.executorUp && this.drivers.get(candidate.executorId)?.has(SIM_APP));
    if (!node) return;
    this.drivers.get(node.executorId)!.delete(SIM_APP);
    const attempt = this.driverAttempts.get(SIM_APP) ?? 0;
    this.fromExecutor(node, node.executorId, { type: "driverExited", executorId: node.executorId, applicationId: SIM_APP, attempt, exitCode: 1, reason: "simulated crash" });
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
}

/**
 * The job is an action of an application with one persisted dataset (the
 * first narrow one after the source; after a warm-up action, the first
 * shuffle's output, so that stages below it are skipped), at a level chosen
 * by the seed: its partitions are registered, read by recomputed tasks, lost
 * with executors or nodes, migrated on decommission and adopted after a
 * scheduler crash.
 */
function withPersistedDataset(plan: Plan, seed: number, belowShuffle: boolean): Plan {
  const levels = ["memory", "disk", "memory_and_disk"] as const;
  const reduced = belowShuffle ? plan.shuffles[0]?.childDatasetId : undefined;
  const chosen = plan.datasets.find((dataset) => (reduced !== undefined ? dataset.id === reduced : dataset.id === 1 && !dataset.wide)) ?? plan.datasets[0]!;
  const datasets = plan.datasets.map((dataset) =>
    dataset === chosen ? { ...dataset, storageLevel: levels[seed % levels.length], cacheKey: `ds${dataset.id}` } : dataset,
  );
  return { ...plan, datasets };
}

function copiesIn(commands: Command[]): SimResult["copies"] {
  const copyIds = new Set<string>();
  let won = 0;
  for (const command of commands) {
    if (command.type === "spanEvent" && command.name === "speculativeCopy") copyIds.add(String(command.attributes["ballast.copy_task_id"]));
    if (command.type === "emitEvent" && command.event.type === "taskEnded" && command.event.state === "succeeded" && copyIds.has(command.event.taskId)) won++;
  }
  return { launched: copyIds.size, won };
}
