/**
 * Seed -> simulated scenario (plan, cluster size, fault mix), so one seed
 * number is enough to replay a failure: `npm run sim -- --seed S`.
 */
import { diamondPlan, joinPlan, sortPlan, threeStagePlan, twoStagePlan } from "../src/core/testing/plans.js";
import { simulate, type FaultKind, type SimOptions } from "./sim.js";
import type { Command } from "../src/core/types.js";

const ALL_FAULTS: FaultKind[] = ["executorKill", "nodeLoss", "twoNodesLost", "corruptBlock", "sigstop", "decommission", "schedulerCrash", "cacheEviction"];

/** Odd seeds: executors of 3 slots, 2 of them queue (the core takes queued tasks back for executors with room). */
export function scenarioFor(seed: number): SimOptions {
  const scenario = baseScenarioFor(seed);
  const takeBack = { ...scenario.conf, "ballast.scheduler.takeBack.enabled": "true" };
  return seed % 2 === 1 ? { ...scenario, slots: 3, queuedSlots: 2, conf: takeBack } : scenario;
}

function baseScenarioFor(seed: number): SimOptions {
  if (seed % 10 === 7) return decommissionStorm(seed);
  if (seed % 10 === 3) return decommissionStragglers(seed);
  if (seed % 10 === 5) return speculatedStragglers(seed);
  if (seed % 10 === 9) return cachedReread(seed);
  const plans = [threeStagePlan(12, 8, 4), twoStagePlan(10, 6, "saveAsTextFile"), joinPlan(8, 6, 4), diamondPlan(8, 6, 4), sortPlan(8, 6, 4)];
  return {
    seed,
    plan: plans[seed % plans.length]!,
    nodes: 3 + (seed % 3),
    faults: 2 + (seed % 4),
    faultKinds: ALL_FAULTS,
    faultWindowMs: 2000,
    badNode: seed % 5 === 0,
    userErrorRate: seed % 11 === 0 ? 0.3 : 0,
  };
}

/** Scale-in again and again with maxConsecutiveAttempts=2: decommission alone must never abort a job. */
function decommissionStorm(seed: number): SimOptions {
  return {
    seed,
    plan: seed % 20 === 7 ? threeStagePlan(12, 8, 4) : diamondPlan(8, 6, 4),
    nodes: 4,
    faults: 5,
    faultKinds: ["decommission"],
    faultWindowMs: 2500,
    conf: { "ballast.stage.maxConsecutiveAttempts": "2" },
    mustSucceed: true,
  };
}

/** Decommissions while some tasks straggle: they are copied elsewhere; original or copy wins, never both. */
function decommissionStragglers(seed: number): SimOptions {
  const plans = [twoStagePlan(10, 6, "saveAsTextFile"), threeStagePlan(12, 8, 4), diamondPlan(8, 6, 4)];
  return {
    seed,
    plan: plans[Math.floor(seed / 10) % plans.length]!,
    nodes: 4,
    faults: 3,
    faultKinds: ["decommission"],
    faultWindowMs: 3000,
    slowTaskRate: 0.25,
    conf: { "ballast.stage.maxConsecutiveAttempts": "2" },
    mustSucceed: true,
  };
}

/** ballast.speculation on, stragglers anywhere and every fault: slow tasks are raced beside decommission's copies, never both. */
function speculatedStragglers(seed: number): SimOptions {
  const plans = [threeStagePlan(12, 8, 4), twoStagePlan(10, 6, "saveAsTextFile"), sortPlan(8, 6, 4)];
  return {
    seed,
    plan: plans[Math.floor(seed / 10) % plans.length]!,
    nodes: 4,
    faults: 1 + (seed % 3),
    faultKinds: ALL_FAULTS,
    faultWindowMs: 3000,
    slowTaskRate: 0.15,
    conf: { "ballast.speculation.enabled": "true", "ballast.speculation.multiplier": "2" },
  };
}

/**
 * Action #1 of an application reads the first shuffle's output, cached whole
 * by a fault-free action #0, so it skips the stages below it; executor
 * deaths, node losses, evictions and crashes lose cached partitions while it
 * runs, and the skipped stages must run again for exactly those.
 */
function cachedReread(seed: number): SimOptions {
  const plans = [threeStagePlan(12, 8, 4), twoStagePlan(10, 6, "saveAsTextFile"), joinPlan(8, 6, 4), diamondPlan(8, 6, 4), sortPlan(8, 6, 4)];
  return {
    seed,
    plan: plans[Math.floor(seed / 10) % plans.length]!,
    nodes: 3 + (seed % 3),
    faults: 1 + (seed % 4),
    faultKinds: ["executorKill", "nodeLoss", "cacheEviction", "schedulerCrash", "corruptBlock", "decommission"],
    faultWindowMs: 600,
    warmUp: true,
  };
}

export interface SeedsSummary {
  runs: number;
  succeeded: number;
  failed: number;
  steps: number;
  copies: { launched: number; won: number };
  /** Partitions of the persisted dataset read from the cache, still registered at the end, and unreadable mid-job below skipped stages. */
  cache: { read: number; registeredAtEnd: number; lostMidJob: number };
  faults: Partial<Record<FaultKind, number>>;
  /** Driver launches of the detached application, those that placed it again (attempt > 1), and stale drivers stopped. */
  drivers: { launched: number; placedAgain: number; stopped: number };
  /** Take-back: tasks asked back (revokeTask), and those the executor answered revoked (requeued). */
  takeBack: { asked: number; revoked: number };
  /** Seed -> its violations. */
  failing: Map<number, string[]>;
}

function countDrivers(drivers: SeedsSummary["drivers"], commands: Command[]): void {
  for (const command of commands) {
    if (command.type === "launchDriver") {
      drivers.launched++;
      if (command.attempt > 1) drivers.placedAgain++;
    } else if (command.type === "stopDriver") drivers.stopped++;
  }
}

function countTakeBacks(takeBack: SeedsSummary["takeBack"], commands: Command[]): void {
  for (const command of commands) {
    if (command.type === "revokeTask") takeBack.asked++;
    else if (command.type === "emitEvent" && command.event.type === "taskEnded" && command.event.error?.message.includes("revoked before it started")) takeBack.revoked++;
  }
}

export function runSeeds(seeds: number[], scenario: (seed: number) => SimOptions = scenarioFor): SeedsSummary {
  const summary: SeedsSummary = { runs: 0, succeeded: 0, failed: 0, steps: 0, copies: { launched: 0, won: 0 }, cache: { read: 0, registeredAtEnd: 0, lostMidJob: 0 }, faults: {}, drivers: { launched: 0, placedAgain: 0, stopped: 0 }, takeBack: { asked: 0, revoked: 0 }, failing: new Map() };
  for (const seed of seeds) {
    let result;
    try {
      result = simulate(scenario(seed));
    } catch (error) {
      summary.runs++;
      summary.failing.set(seed, [`seed ${seed}: the core threw: ${(error as Error).stack}`]);
      continue;
    }
    summary.runs++;
    summary.steps += result.steps;
    summary.copies.launched += result.copies.launched;
    summary.copies.won += result.copies.won;
    summary.cache.read += result.view.stats.cachedPartitionsRead;
    summary.cache.registeredAtEnd += result.cachedPartitions;
    countDrivers(summary.drivers, result.commands);
    countTakeBacks(summary.takeBack, result.commands);
    summary.cache.lostMidJob += result.cachedLostMidJob;
    if (result.view.status === "succeeded") summary.succeeded++;
    else summary.failed++;
    for (const [kind, count] of Object.entries(result.faultCounts)) {
      summary.faults[kind as FaultKind] = (summary.faults[kind as FaultKind] ?? 0) + count;
    }
    if (result.violations.length > 0) summary.failing.set(seed, result.violations);
  }
  return summary;
}
