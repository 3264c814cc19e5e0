import type { JobInfo } from "@ballast/gen/common";
import type { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { onLeader } from "@ballast/clients/scheduler";
import { resolveConf } from "@ballast/common/config";
import { allPages } from "@ballast/common/paging";
import { call } from "@ballast/common/grpc";
import { jobStatus } from "@ballast/common/wire/jobs";
import { nodeStateName } from "@ballast/common/wire/resources";
import { ExitError } from "../exit.js";
import { schedulerAddresses, type MasterFlags } from "./addresses.js";

type JsonFlag = MasterFlags & { json: boolean };

const print = (line: string) => void process.stdout.write(`${line}\n`);

/** Runs one call on the leading scheduler (following a failover). */
function onClusterLeader<T>(opts: MasterFlags, fn: (client: InstanceType<typeof SchedulerServiceClient>) => Promise<T>): Promise<T> {
  return onLeader(schedulerAddresses(opts), fn, 15_000);
}

/** `ballast jobs`. */
export async function jobs(opts: JsonFlag): Promise<void> {
  const jobs = await onClusterLeader(opts, (c) => allJobs(c));
  if (opts.json) return print(JSON.stringify(jobs.map((j) => ({ jobId: j.jobId, name: j.name, status: jobStatus.fromWire(j.status), stats: j.stats }))));
  for (const j of jobs) print(`${j.jobId}\t${j.name}\t${jobStatus.fromWire(j.status)}\t${j.stats?.tasksLaunched ?? 0} tasks\t${((j.stats?.wallTimeMs ?? 0) / 1000).toFixed(1)}s`);
  if (jobs.length === 0) print("no jobs");
}

/** Every page of ListJobs (of one application's jobs when `applicationId` is given). */
export async function allJobs(client: InstanceType<typeof SchedulerServiceClient>, applicationId = ""): Promise<JobInfo[]> {
  return allPages(async (pageToken) => {
    const page = await call(client.listJobs.bind(client), { pageSize: 0, pageToken, applicationId }, 10_000);
    return { items: page.jobs, nextPageToken: page.nextPageToken };
  });
}

/** `ballast executors`. */
export async function executors(opts: JsonFlag): Promise<void> {
  const { executors } = await onClusterLeader(opts, (c) => call(c.listExecutors.bind(c), {}, 10_000));
  if (opts.json) return print(JSON.stringify(executors));
  for (const e of executors) {
    const state = describeState(e.state || (e.alive ? "active" : "lost"), e.excludedUntilMs, e.stateReason || e.lostReason);
    print(`${e.executorId}\t${e.nodeId}\t${state}\t${e.runningTasks}/${e.slots} slots\tshuffle ${e.shuffleAddress}`);
  }
  if (executors.length === 0) print("no executors");
}

/** `ballast nodes`. */
export async function nodes(opts: JsonFlag): Promise<void> {
  const { nodes } = await onClusterLeader(opts, (c) => call(c.listNodes.bind(c), {}, 10_000));
  if (opts.json) return print(JSON.stringify(nodes.map((n) => ({ ...n, state: nodeStateName(n.state) }))));
  for (const n of nodes) {
    const state = describeState(nodeStateName(n.state), n.excludedUntilMs, n.reason);
    print(`${n.nodeId}\t${state}\t${n.executorIds.length} executors\t${n.runningTasks} running\tfailure score ${n.failureScore.toFixed(2)}\tshuffle ${n.shuffleAddress}`);
  }
  if (nodes.length === 0) print("no nodes");
}

/** `ballast decommission NODE`. */
export async function decommission(nodeId: string, opts: MasterFlags & { deadline: string }): Promise<void> {
  const deadlineMs = parseDuration(opts.deadline);
  const { node } = await onClusterLeader(opts, (c) => call(c.decommissionNode.bind(c), { nodeId, deadlineMs }, 10_000));
  print(`${nodeId} is ${nodeStateName(node!.state)}; deadline ${new Date(node!.decommissionDeadlineMs).toISOString()}`);
}

/** `ballast recommission NODE`. */
export async function recommission(nodeId: string, opts: MasterFlags): Promise<void> {
  const { node } = await onClusterLeader(opts, (c) => call(c.recommissionNode.bind(c), { nodeId }, 10_000));
  print(`${nodeId} is ${nodeStateName(node!.state)}`);
}

function describeState(state: string, excludedUntilMs: number, reason: string): string {
  const until = state === "excluded" && excludedUntilMs > 0 ? ` until ${new Date(excludedUntilMs).toISOString()}` : "";
  return `${state}${until}${reason ? ` (${reason})` : ""}`;
}

function parseDuration(text: string): number {
  try {
    return resolveConf({ "ballast.decommission.deadline": text }, {})["ballast.decommission.deadline"];
  } catch {
    throw new ExitError(`--deadline must be a duration like 30s or 2m, got "${text}"`, 2);
  }
}
