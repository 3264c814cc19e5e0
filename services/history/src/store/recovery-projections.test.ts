import { describe, expect, it } from "vitest";
import type { PublishedEvent as HistoryEvent } from "@ballast/common/domain/events";
import { HISTORY_BACKENDS, useStores } from "../testing/backends.js";
import { applicationEvents, HOUR_MS, recoveryEvents, shuffled, T0 } from "../testing/fixtures.js";
import type { HistoryStore } from "./store.js";

/** Exclusion, decommission, migration, failover and resubmission projections, on every backend. */

const APP = "app-r";

const allEvents = (): HistoryEvent[] => [...applicationEvents(), ...recoveryEvents()];

async function snapshot(store: HistoryStore) {
  return {
    executors: await store.listExecutors(APP),
    nodes: await store.listNodes(APP),
    failovers: await store.listFailovers(APP),
    jobs: await store.listJobs(APP),
  };
}

const executorStates = async (store: HistoryStore) =>
  (await store.listExecutors(APP)).map((e) => [e.executorId, e.state, e.stateReason, e.excludedUntilMs]);

for (const backend of HISTORY_BACKENDS) {
describe.skipIf(!!backend.skip)(`recovery projections: ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`, () => {
  const { fresh } = useStores(backend);

  it("derives executor and node states from exclusions, decommission and removals", async () => {
    const store = await fresh();
    expect(await store.publish(APP, allEvents())).toEqual({ ackedSeq: 32, inserted: 32 });
    expect(await executorStates(store)).toEqual([
      // Its own exclusion was lifted, its node's is still in force.
      ["exec-1", "excluded", "2 excluded executors", T0 + HOUR_MS],
      ["exec-2", "lost", "heartbeat timeout", 0],
      ["exec-3", "decommissioned", "decommissioned", 0],
    ]);
    const nodes = await store.listNodes(APP);
    expect(nodes.map((n) => [n.nodeId, n.state, n.reason, n.excludedUntilMs])).toEqual([
      ["node-1", "excluded", "2 excluded executors", T0 + HOUR_MS],
      ["node-2", "lost", "heartbeat timeout", 0],
      ["node-3", "decommissioned", "scale-in", 0],
    ]);
    expect(nodes[2]).toMatchObject({
      decommissionPhase: "decommissioned",
      decommissionDeadlineMs: T0 + 120_000,
      migratedOutputs: 3,
      migratedBytes: 3072,
      outputsNotMigrated: 1,
      migrationTargets: "127.0.0.2:7337",
      shuffleAddress: "127.0.0.4:7337",
      executorIds: ["exec-3"],
      aliveExecutors: 0,
    });
  });

  it("counts a job's recovery events and lists failovers; JobEnded stats stay as sent", async () => {
    const store = await fresh();
    await store.publish(APP, allEvents());
    const [job1, job2] = await store.listJobs(APP);
    expect(job1!.recovery).toEqual({ lostMapOutputs: 0, stageResubmissions: 0, resubmittedPartitions: 0, taskResubmissions: 0 });
    expect(job1!.stats.tasksLaunched).toBe(4);
    expect(job2).toMatchObject({ jobId: "job-2", status: "running" });
    expect(job2!.recovery).toEqual({ lostMapOutputs: 1, stageResubmissions: 1, resubmittedPartitions: 1, taskResubmissions: 1 });
    expect(await store.listFailovers(APP)).toEqual([
      { seq: 30, timeMs: T0 + 80, epoch: 2, downtimeMs: 1500, jobsRecovered: 1, leaderAddress: "127.0.0.1:7077" },
    ]);
    expect(await store.listFailovers("other")).toEqual([]);
  });

  it("is idempotent and ends the same whatever order batches arrive in", async () => {
    const inOrder = await fresh();
    const events = allEvents();
    await inOrder.publish(APP, events);
    const expected = await snapshot(inOrder);
    expect(await inOrder.publish(APP, events.slice(15, 25))).toEqual({ ackedSeq: 32, inserted: 0 });
    expect(await snapshot(inOrder)).toEqual(expected);
    for (const seed of [3, 11, 99, 2024, 31337]) {
      const store = await fresh();
      const order = shuffled(events, seed);
      for (let i = 0; i < order.length; i += 2) await store.publish(APP, order.slice(i, i + 3));
      expect(await snapshot(store), `seed ${seed}`).toEqual(expected);
    }
    // Newest first is the hardest order: every fact arrives before what it overrides.
    const reversed = await fresh();
    for (const event of [...events].reverse()) await reversed.publish(APP, [event]);
    expect(await snapshot(reversed)).toEqual(expected);
  });

  it("recommissioning makes a node and its executors active again; stage-scoped exclusions change nothing", async () => {
    const store = await fresh();
    const [added1] = applicationEvents();
    let seq = 0;
    const at = (body: HistoryEvent["body"]): HistoryEvent => ({ seq: ++seq, timeMs: T0 + seq, jobId: "", body });
    const phase = (p: string) => at({ type: "decommissionChanged", nodeId: "node-1", phase: p, deadlineMs: T0 + 1000, reason: `${p} by test` });
    await store.publish(APP, [{ ...added1!, seq: ++seq }, phase("requested")]);
    expect(await executorStates(store)).toEqual([["exec-1", "decommissioning", "requested by test", 0]]);
    await store.publish(APP, [phase("recommissioned")]);
    expect(await executorStates(store)).toEqual([["exec-1", "active", "", 0]]);
    expect((await store.listNodes(APP))[0]).toMatchObject({ state: "active", decommissionPhase: "recommissioned", aliveExecutors: 1 });
    const stageOnly = at({ type: "exclusionChanged", scope: "executor", id: "exec-1", excluded: true, untilMs: T0 + HOUR_MS, reason: "x", stageScoped: true, stageId: 2 });
    await store.publish(APP, [stageOnly]);
    expect(await executorStates(store)).toEqual([["exec-1", "active", "", 0]]);
  });

  it("an executor lost before its node's decommission began stays lost", async () => {
    const store = await fresh();
    const [, added2] = applicationEvents();
    const removed: HistoryEvent = { seq: 3, timeMs: T0 + 3, jobId: "", body: { type: "executorRemoved", executorId: "exec-2", reason: "heartbeat timeout" } };
    const requested: HistoryEvent = { seq: 4, timeMs: T0 + 4, jobId: "", body: { type: "decommissionChanged", nodeId: "node-2", phase: "requested", deadlineMs: 0, reason: "spot notice" } };
    await store.publish(APP, [requested, removed, added2!]);
    expect(await executorStates(store)).toEqual([["exec-2", "lost", "heartbeat timeout", 0]]);
    expect((await store.listNodes(APP))[0]).toMatchObject({ nodeId: "node-2", state: "decommissioning", reason: "spot notice" });
  });
});
}
