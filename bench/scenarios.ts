// Fault benchmarks: the 100 MB word count, clean and with a fault, in one run each.
import { join } from "node:path";
import { readCluster, type ClusterDescription } from "@ballast/cli/cluster";
import { onLeader } from "@ballast/clients/scheduler";
import { formatBytes } from "@ballast/cli/outcome";
import { NodeState, SchedulerServiceClient } from "@ballast/gen/scheduler";
import { call } from "@ballast/common/grpc";
import { historyEvents, killNode, readTaskEvents, waitUntil } from "../test/support/faults.js";
import { BENCH_DIR, benchCorpus, row, seconds, withCluster, wordcount } from "./support.js";

const finished = (file: string, stageId: number) => readTaskEvents(file).filter((e) => e.event === "end" && e.state === "succeeded" && e.stageId === stageId);

/** Clean run and faulted run on identical fresh clusters; `fault` runs while the job does. */
async function compare(name: string, nodes: number, extra: { schedulers?: number; schedulerConf?: string[] }, fault: (cluster: ClusterDescription, eventsFile: string) => Promise<void>) {
  const corpus = benchCorpus();
  const run = (label: string, inject?: typeof fault) => {
    const eventsFile = join(BENCH_DIR, `${name}-${label}.events`);
    return withCluster(`${name}-${label}`, { nodes, slots: 1, ...extra, env: { BALLAST_TEST_TASK_EVENTS_FILE: eventsFile } }, async (cluster) => {
      const job = wordcount(cluster, corpus, `${name}-${label}-out`);
      if (inject) await inject(cluster, eventsFile);
      const result = await job;
      return { ...result, events: await historyEvents(cluster, ""), cluster };
    });
  };
  const clean = await run("clean");
  const faulted = await run("fault", fault);
  return { clean, faulted };
}

export async function recoveryBench(): Promise<void> {
  const { clean, faulted } = await compare("recovery", 3, {}, async (cluster, eventsFile) => {
    await waitUntil("half of the reduce stage", () => finished(eventsFile, 1).length >= 2);
    killNode(cluster, "node-1");
  });
  const s = faulted.outcome.stats;
  const mapTask = mean(clean.events.filter((e) => e.type === "taskEnded" && e.stageId === 0).map((e) => Number(e.durationMs)));
  const lostWorkMs = (s.recomputedTasks * mapTask) / 2; // two nodes remain, one slot each
  console.log("\n== recovery: 100 MB word count on 3 nodes, one node SIGKILLed halfway through the reduce stage");
  row("clean wall time", seconds(clean.ms));
  row("recovered wall time", seconds(faulted.ms));
  row("ratio recovered/clean", `${(faulted.ms / clean.ms).toFixed(2)}x`);
  row("map outputs lost", String(s.lostMapOutputs));
  row("tasks recomputed", `${s.recomputedTasks}  (target: equal to outputs lost)`);
  row("stage attempts", `${s.stageAttempts} vs ${clean.outcome.stats.stageAttempts} clean  (target: one extra)`);
  row("budget clean + lost work + 2 s", `${seconds(clean.ms + lostWorkMs + 2000)}  (recovered ${faulted.ms <= clean.ms + lostWorkMs + 2000 ? "within" : "OVER"})`);
}

export async function decommissionBench(): Promise<void> {
  const { clean, faulted } = await compare("decommission", 3, {}, async (cluster, eventsFile) => {
    await waitUntil("half of the map stage", () => finished(eventsFile, 0).length >= 4);
    await onClusterLeader(cluster, (c) => call(c.decommissionNode.bind(c), { nodeId: "node-1", deadlineMs: 120_000 }));
    await waitUntilDecommissioned(cluster, "node-1");
    killNode(cluster, "node-1");
  });
  const migrated = faulted.events.find((e) => e.type === "shuffleMigrated");
  console.log("\n== decommission: 100 MB word count on 3 nodes, one node decommissioned then killed halfway through the map stage");
  row("clean wall time", seconds(clean.ms));
  row("decommissioned wall time", seconds(faulted.ms));
  row("bytes migrated", migrated ? `${formatBytes(Number(migrated.bytes))} in ${migrated.outputs} outputs` : "none");
  row("migration time", migrated ? seconds(Number(migrated.durationMs)) : "-");
  row("tasks recomputed", `${faulted.outcome.stats.recomputedTasks}  (target 0)`);
  const budget = clean.ms + (migrated ? Number(migrated.durationMs) : 0);
  row("budget clean + migration", `${seconds(budget)}  (decommissioned run ${faulted.ms <= budget ? "within" : "OVER"})`);
}

export async function failoverBench(): Promise<void> {
  let killedAt = 0;
  const { clean, faulted } = await compare("failover", 2, { schedulers: 2 }, async (cluster, eventsFile) => {
    await waitUntil("map progress", () => finished(eventsFile, 0).length >= 3);
    const schedulers = readCluster(cluster.dir).services.filter((s) => s.name === "scheduler");
    const leader = await onClusterLeader(cluster, (c) => call(c.getLeader.bind(c), {}));
    killedAt = Date.now();
    process.kill(schedulers.find((s) => s.address === leader.leaderAddress)!.pid, "SIGKILL");
  });
  const firstLaunch = faulted.events.filter((e) => e.type === "taskStarted" && Number(e.timeMs) > killedAt).map((e) => Number(e.timeMs)).sort((a, b) => a - b)[0];
  const rerun = faulted.outcome.stats.tasksLaunched - clean.outcome.stats.tasksLaunched;
  console.log("\n== failover: 100 MB word count on 2 nodes with a standby scheduler, the active one SIGKILLed mid-job");
  row("clean wall time", seconds(clean.ms));
  row("failover wall time", seconds(faulted.ms));
  row("failover time (kill -> first launch)", firstLaunch ? `${seconds(firstLaunch - killedAt)}  (target < 2x lease = 10 s)` : "no launch after the kill");
  row("finished tasks rerun", `${Math.max(0, rerun)}  (target 0)`);
}

function onClusterLeader<T>(cluster: ClusterDescription, fn: (c: InstanceType<typeof SchedulerServiceClient>) => Promise<T>): Promise<T> {
  return onLeader(cluster.scheduler.split(","), fn);
}

async function waitUntilDecommissioned(cluster: ClusterDescription, nodeId: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { nodes } = await onClusterLeader(cluster, (c) => call(c.listNodes.bind(c), {}));
    if (nodes.some((n) => n.nodeId === nodeId && n.state === NodeState.NODE_STATE_DECOMMISSIONED)) return;
    if (Date.now() > deadline) throw new Error(`${nodeId} was not decommissioned in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
