import { describe, expect, it } from "vitest";
import { createState, jobView, step } from "./index.js";
import { APP, cluster, persisted, runKeeping, submitAction } from "./testing/cached.js";
import { launchesIn, type Harness } from "./testing/harness.js";
import { singleStagePlan, twoStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

const offeredIn = (commands: Command[]) =>
  launchesIn(commands).map(({ executorId, task }) => [task.partition, executorId, (task.cachedPartitions ?? []).map((l) => [l.partition, l.memoryExecutorId, l.diskShuffleAddress])]);

describe("the cache registry", () => {
  it("registers what the first action kept and offers it to the next action's tasks, in memory on the holder", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory"));
    const holders = new Map([...h.live.values()].map(({ executorId, task }) => [task.partition, executorId]));
    runKeeping(h);
    expect(jobView(h.state, "a1")!.stats.cachedPartitionsRead).toBe(0);
    const second = submitAction(h, "a2", persisted(twoStagePlan(4, 2), "memory"));
    // Each map task goes to the executor holding its partition in memory, and is told so.
    expect(offeredIn(second)).toEqual([0, 1, 2, 3].map((p) => [p, holders.get(p), [[p, holders.get(p), ""]]]));
    runKeeping(h);
    expect(jobView(h.state, "a2")).toMatchObject({ status: "succeeded", stats: { cachedPartitionsRead: 4 } });
  });

  it("an executor's loss drops its memory partitions and keeps disk ones; a node's loss drops its disk ones", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory_and_disk"));
    runKeeping(h);
    h.loseExecutor("e1");
    const entries = () => [...(h.state.cache.get(`${APP}/ds1`)?.values() ?? [])];
    expect(entries().map((e) => e.memoryExecutorId).filter(Boolean).every((id) => id === "e2")).toBe(true);
    expect(entries().filter((e) => e.diskShuffleAddress === "n1:7337")).toHaveLength(2); // disk copies outlive e1
    h.loseNode("n1");
    expect(entries()).toHaveLength(2);
    expect(entries().every((e) => e.memoryExecutorId === "e2" && e.diskShuffleAddress === "n2:7337")).toBe(true);
    // The lost partitions are simply not offered: their tasks compute them again, only them.
    const logged = h.log.length;
    submitAction(h, "a2", persisted(singleStagePlan(4), "memory_and_disk"));
    runKeeping(h);
    const launches = offeredIn(h.log.slice(logged));
    expect(launches).toHaveLength(4);
    expect(launches.filter(([, , offered]) => (offered as unknown[]).length === 0)).toHaveLength(2);
    expect(jobView(h.state, "a2")!.stats.cachedPartitionsRead).toBe(2);
  });

  it("a migrated disk partition is repointed to the peer that received it", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(2), "disk"));
    runKeeping(h);
    const partition = [...h.state.cache.get(`${APP}/ds1`)!].find(([, e]) => e.diskNodeId === "n1")![0];
    h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "scale-in" });
    h.send({ type: "mapOutputMigrated", fromNodeId: "n1", shuffleId: `cache-${APP}-ds1`, mapIndex: partition, attempt: 0, newAddress: "n2:7337", newNodeId: "n2", bytes: 64 });
    expect(h.state.cache.get(`${APP}/ds1`)!.get(partition)).toMatchObject({ diskNodeId: "n2", diskShuffleAddress: "n2:7337" });
  });

  it("a node holding disk partitions, decommissioned while no job runs, migrates them instead of finishing at once", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(2), "disk"));
    runKeeping(h);
    expect(jobView(h.state, "a1")!.status).toBe("succeeded");
    const commands = h.send({ type: "decommissionNode", nodeId: "n1", deadlineMs: 60_000, reason: "scale-in" });
    expect(commands.filter((c) => c.type === "migrateShuffle")).toEqual([{ type: "migrateShuffle", nodeId: "n1", shuffleAddress: "n1:7337", peers: [{ nodeId: "n2", shuffleAddress: "n2:7337" }] }]);
    expect(h.state.nodes.get("n1")!.decommission!.phase).not.toBe("decommissioned");
  });

  it("is rebuilt exactly by replaying the logged inputs (a failover's new leader adopts it)", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "disk"));
    runKeeping(h);
    const replayed = createState();
    for (const { input, now } of h.inputs) step(replayed, input, now);
    expect(replayed.cache).toEqual(h.state.cache);
    expect(replayed.cache.get(`${APP}/ds1`)!.size).toBe(4);
  });

  it("keeps nothing for jobs that are not an application's actions", () => {
    const h = cluster();
    h.submit("plain", persisted(singleStagePlan(2), "memory"));
    runKeeping(h);
    expect(h.state.cache.size).toBe(0);
  });
});

describe("history's view of the cache", () => {
  it("an application's job ends with its persisted datasets, partitions held of the total, bytes and holders, before its end", () => {
    const h = cluster();
    const plan = persisted(singleStagePlan(4), "memory_and_disk");
    submitAction(h, "a1", plan);
    runKeeping(h);
    const events = h.log.flatMap((c) => (c.type === "emitEvent" && c.event.jobId === "a1" ? [c.event] : []));
    const cached = events.find((e) => e.type === "cachedDatasets");
    const held = [...h.state.cache.get(`${APP}/ds1`)!.values()];
    const onE1 = held.filter((e) => e.memoryExecutorId === "e1").length;
    const dataset = plan.datasets.find((d) => d.id === 1)!;
    expect(cached).toMatchObject({
      applicationId: APP,
      datasets: [{
        cacheKey: "ds1", name: `${dataset.op} at ${dataset.callSite}`, level: "memory_and_disk", numPartitions: 4, partitionsHeld: 4, bytes: 4 * 64,
        holders: [
          { kind: "disk", id: "n1", partitions: onE1, bytes: onE1 * 64 },
          { kind: "disk", id: "n2", partitions: 4 - onE1, bytes: (4 - onE1) * 64 },
          { kind: "memory", id: "e1", partitions: onE1, bytes: onE1 * 64 },
          { kind: "memory", id: "e2", partitions: 4 - onE1, bytes: (4 - onE1) * 64 },
        ],
      }],
    });
    expect(events.indexOf(cached!)).toBe(events.findIndex((e) => e.type === "jobEnded") - 1);
  });

  it("a job that persists nothing, or belongs to no application, emits none", () => {
    const h = cluster();
    submitAction(h, "a1", singleStagePlan(2));
    for (const taskId of [...h.live.keys()]) h.succeed(taskId);
    h.submit("plain", persisted(singleStagePlan(2), "memory"));
    runKeeping(h);
    expect(["a1", "plain"].map((jobId) => jobView(h.state, jobId)!.status)).toEqual(["succeeded", "succeeded"]);
    expect(h.log.some((c) => c.type === "emitEvent" && c.event.type === "cachedDatasets")).toBe(false);
  });
});

describe("unpersist", () => {
  it("forgets the dataset's partitions and removes their disk copies from the shuffle services holding them", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory_and_disk"));
    runKeeping(h);
    const removed = h.send({ type: "datasetUnpersisted", applicationId: APP, cacheKey: "ds1" });
    expect(h.state.cache.size).toBe(0);
    expect(removed.filter((c) => c.type === "removeShuffles")).toEqual([
      { type: "removeShuffles", jobId: "", shuffleIds: [`cache-${APP}-ds1`], shuffleAddresses: ["n1:7337", "n2:7337"] },
    ]);
    expect(h.send({ type: "datasetUnpersisted", applicationId: APP, cacheKey: "ds1" }).filter((c) => c.type === "removeShuffles")).toEqual([]);
  });

  it("tells every live executor to free the dataset's memory copies, even one the registry does not name", () => {
    const h = cluster();
    h.addExecutor("e3", "n3", 2);
    h.loseExecutor("e3");
    submitAction(h, "a1", persisted(singleStagePlan(2), "memory"));
    runKeeping(h);
    const freed = h.send({ type: "datasetUnpersisted", applicationId: APP, cacheKey: "ds1" }).filter((c) => c.type === "freeCachedDataset");
    expect(freed).toEqual(["e1", "e2"].map((executorId) => ({ type: "freeCachedDataset", executorId, applicationId: APP, cacheKey: "ds1" })));
  });
});

describe("memory copies an executor evicts or no longer holds", () => {
  const holdersOf = (h: Harness) => [...(h.state.cache.get(`${APP}/ds1`) ?? new Map()).entries()].map(([p, e]) => [p, e.memoryExecutorId, e.diskShuffleAddress]).sort();
  const ref = (partition: number) => ({ applicationId: APP, cacheKey: "ds1", partition, bytes: 64 });

  it("an eviction drops only that executor's memory copy; a disk copy of the partition stays offered", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory_and_disk"));
    runKeeping(h);
    const before = holdersOf(h);
    const onE1 = before.filter(([, executorId]) => executorId === "e1").map(([p]) => p as number);
    expect(onE1.length).toBeGreaterThan(0);
    h.send({ type: "cachedPartitionsDropped", executorId: "e1", partitions: onE1.map(ref) });
    // e2 reporting e1's partitions changes nothing: they are not its copies.
    h.send({ type: "cachedPartitionsDropped", executorId: "e2", partitions: onE1.map(ref) });
    expect(holdersOf(h)).toEqual(before.map(([p, executorId, disk]) => [p, executorId === "e1" ? "" : executorId, disk]));
  });

  it("a partition evicted from memory and not on disk leaves the registry: the next action computes only it", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory"));
    runKeeping(h);
    const [evicted] = holdersOf(h)[0]! as [number, string];
    const holder = holdersOf(h)[0]![1] as string;
    h.send({ type: "cachedPartitionsDropped", executorId: holder, partitions: [ref(evicted)] });
    expect(holdersOf(h).map(([p]) => p)).toEqual([0, 1, 2, 3].filter((p) => p !== evicted));
    const second = submitAction(h, "a2", persisted(singleStagePlan(4), "memory"));
    expect(launchesIn(second).filter(({ task }) => (task.cachedPartitions ?? []).length === 0).map(({ task }) => task.partition)).toEqual([evicted]);
  });

  it("a re-registration reconciles: copies it no longer reports go, copies the log missed are added", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory_and_disk"));
    runKeeping(h);
    const onE1 = holdersOf(h).filter(([, executorId]) => executorId === "e1").map(([p]) => p as number);
    const [kept, ...forgotten] = onE1;
    // e1 reconnects holding one of its partitions, plus one of another dataset the registry never heard of.
    h.send({ type: "executorRegistered", executor: { ...h.executors.get("e1")!, cachedPartitions: [ref(kept!), { ...ref(7), cacheKey: "ds9" }] } });
    const entries = h.state.cache.get(`${APP}/ds1`)!;
    expect(entries.get(kept!)!.memoryExecutorId).toBe("e1");
    for (const p of forgotten) expect(entries.get(p)).toMatchObject({ memoryExecutorId: "", diskNodeId: "n1" });
    expect(h.state.cache.get(`${APP}/ds9`)!.get(7)).toEqual({ memoryExecutorId: "e1", diskNodeId: "", diskShuffleAddress: "", bytes: 64 });
    // The description kept for the executor does not carry the report.
    expect(h.state.executors.get("e1")!.description.cachedPartitions).toBeUndefined();
  });

  it("a registration with what its node's shuffle service holds reconciles the disk copies there", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory_and_disk"));
    runKeeping(h);
    const onN1 = holdersOf(h).filter(([, , disk]) => disk === "n1:7337").map(([p]) => p as number);
    const [kept, ...lost] = onN1;
    const e1 = { ...h.executors.get("e1")!, cachedPartitions: holdersOf(h).filter(([, executorId]) => executorId === "e1").map(([p]) => ref(p as number)) };
    // n1's shuffle service restarted and kept only one of them; it also holds one the log never heard of (ds9/5).
    h.send({ type: "executorRegistered", executor: { ...e1, cachedOnDisk: [ref(kept!), { ...ref(5), cacheKey: "ds9" }] } });
    const entries = h.state.cache.get(`${APP}/ds1`)!;
    expect(entries.get(kept!)).toMatchObject({ diskNodeId: "n1", diskShuffleAddress: "n1:7337" });
    for (const p of lost) expect(entries.get(p)).toMatchObject({ diskNodeId: "", diskShuffleAddress: "", memoryExecutorId: "e1" }); // the memory copy stays
    expect(h.state.cache.get(`${APP}/ds9`)!.get(5)).toEqual({ memoryExecutorId: "", diskNodeId: "n1", diskShuffleAddress: "n1:7337", bytes: 64 });
    // A disk copy known elsewhere (migrated to a peer) is not pointed back at this node.
    const onN2 = holdersOf(h).find(([, , disk]) => disk === "n2:7337")![0] as number;
    h.send({ type: "executorRegistered", executor: { ...e1, cachedOnDisk: [ref(kept!), ref(onN2)] } });
    expect(entries.get(onN2)).toMatchObject({ diskShuffleAddress: "n2:7337" });
    // A registration that could not ask its shuffle service changes no disk copy.
    const before = holdersOf(h);
    h.send({ type: "executorRegistered", executor: e1 });
    expect(holdersOf(h)).toEqual(before);
  });

  it("replaying the log rebuilds the reconciled registry exactly", () => {
    const h = cluster();
    submitAction(h, "a1", persisted(singleStagePlan(4), "memory"));
    runKeeping(h);
    h.send({ type: "cachedPartitionsDropped", executorId: "e2", partitions: [0, 1, 2, 3].map(ref) });
    h.send({ type: "executorRegistered", executor: { ...h.executors.get("e1")!, cachedPartitions: [ref(3)] } });
    const replayed = createState();
    for (const { input, now } of h.inputs) step(replayed, input, now);
    expect(replayed.cache).toEqual(h.state.cache);
  });
});
