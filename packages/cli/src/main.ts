import { Command, CommanderError } from "commander";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeState, SchedulerServiceClient } from "@ballast/gen/scheduler";
import { resolveConf } from "@ballast/common/config";
import { BallastError, describeError, isServiceError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import { shutdownTelemetry } from "@ballast/common/telemetry";
import { jobStatus } from "@ballast/common/wire/plan";
import { readCluster, restartService, startCluster, stopCluster, type ServiceName } from "./cluster.js";
import { onLeader } from "@ballast/clients/scheduler";
import { outcomeJson, outcomeText } from "./outcome.js";
import { submitJob } from "./submit.js";

const collect = (value: string, all: string[]) => [...all, value];
const DEFAULT_DIR = ".ballast";

/** Exit codes: 0 ok, 1 the job or a service failed, 2 a usage or input mistake. */
class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function masterAddresses(opts: { master?: string; staging?: string; dir: string }): { scheduler: string; staging: string; historyUrl?: string } {
  if (opts.master) {
    const cluster = tryReadCluster(opts.dir);
    const staging = opts.staging ?? cluster?.staging;
    if (!staging) throw new ExitError("--master needs --staging HOST:PORT too (or a cluster.json in --dir)", 2);
    return { scheduler: opts.master, staging };
  }
  const cluster = readCluster(opts.dir);
  return { scheduler: cluster.scheduler, staging: cluster.staging, historyUrl: `http://${cluster.historyHttp}` };
}

function tryReadCluster(dir: string) {
  try {
    return readCluster(dir);
  } catch {
    return undefined;
  }
}

async function runSubmit(jobFile: string, jobArgs: string[], opts: SubmitFlags, addresses: { scheduler: string; staging: string; historyUrl?: string }): Promise<number> {
  const outcome = await submitJob({ ...addresses, jobFile, args: jobArgs, files: opts.file, conf: opts.conf, json: opts.json });
  if (opts.json) process.stdout.write(`${outcomeJson(outcome)}\n`);
  else {
    process.stdout.write(`${outcomeText(outcome)}\n`);
    if (addresses.historyUrl) process.stdout.write(`history: ${addresses.historyUrl}/#/job/${outcome.jobId}\n`);
  }
  return outcome.ok ? 0 : 1;
}

interface SubmitFlags {
  file: string[];
  conf: string[];
  json: boolean;
}

export function buildProgram(): Command {
  const program = new Command("ballast").description("Ballast: a fault-tolerant distributed batch engine").exitOverride();
  program
    .command("up")
    .description("start a local cluster (scheduler, staging, history, N nodes of executor + shuffle)")
    .option("--nodes <n>", "number of nodes", "2")
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .option("--slots <n>", "task slots per executor (default: cores / nodes, at least 1)")
    .option("--ports <mode>", "default (Spark's ports) or auto (free ports)", "default")
    .option("--schedulers <n>", "schedulers sharing one store: one active, the rest standbys", "1")
    .action(async (opts: { nodes: string; dir: string; slots?: string; ports: string; schedulers: string }) => {
      if (opts.ports !== "default" && opts.ports !== "auto") throw new ExitError(`--ports must be default or auto, got "${opts.ports}"`, 2);
      const cluster = await startCluster({ dir: opts.dir, nodes: Number(opts.nodes), slots: opts.slots === undefined ? undefined : Number(opts.slots), ports: opts.ports, schedulers: Number(opts.schedulers) });
      process.stdout.write(`cluster up in ${cluster.dir}: scheduler ${cluster.scheduler}, staging ${cluster.staging}, history http://${cluster.historyHttp}, ${cluster.services.filter((s) => s.name === "executor").length} nodes\n`);
    });
  program
    .command("down")
    .description("stop the local cluster")
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .action(async (opts: { dir: string }) => {
      const stopped = await stopCluster(opts.dir);
      process.stdout.write(`stopped ${stopped} processes\n`);
    });
  program
    .command("start <service>")
    .description("start one service of an existing local cluster again (scheduler|staging|history|shuffle|executor)")
    .option("--node <id>", "node id, for shuffle and executor")
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .action(async (service: string, opts: { node?: string; dir: string }) => {
      if (!["scheduler", "staging", "history", "shuffle", "executor"].includes(service)) throw new ExitError(`unknown service "${service}" (scheduler, staging, history, shuffle or executor)`, 2);
      const started = await restartService(opts.dir, service as ServiceName, opts.node);
      process.stdout.write(`started ${service}${started.nodeId ? ` on ${started.nodeId}` : ""} at ${started.address} (pid ${started.pid})\n`);
    });
  program
    .command("submit <job> [args...]")
    .description("bundle, upload and run a job on a cluster; args after -- go to the job")
    .option("--master <host:port>", "scheduler address (default: from --dir)")
    .option("--staging <host:port>", "staging address (with --master)")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .option("--file <path>", "upload a file; the job reads it as staging://<basename>", collect, [])
    .option("--conf <key=value>", "ballast.* setting for this job", collect, [])
    .option("--json", "end with one JSON line: job id, status, result, stats", false)
    .action(async (job: string, args: string[], opts: SubmitFlags & { master?: string; staging?: string; dir: string }) => {
      process.exitCode = await runSubmit(job, args, opts, masterAddresses(opts));
    });
  program
    .command("run <job> [args...]")
    .description("run a job on an embedded local cluster started and stopped for it")
    .option("--nodes <n>", "number of nodes", "2")
    .option("--file <path>", "upload a file; the job reads it as staging://<basename>", collect, [])
    .option("--conf <key=value>", "ballast.* setting for this job", collect, [])
    .option("--json", "end with one JSON line", false)
    .action(async (job: string, args: string[], opts: SubmitFlags & { nodes: string }) => {
      const dir = mkdtempSync(join(tmpdir(), "ballast-run-"));
      try {
        const cluster = await startCluster({ dir, nodes: Number(opts.nodes), ports: "auto" });
        process.exitCode = await runSubmit(job, args, opts, { scheduler: cluster.scheduler, staging: cluster.staging });
      } finally {
        await stopCluster(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  program
    .command("jobs")
    .description("list the scheduler's jobs")
    .option("--master <host:port>", "scheduler address(es), comma-separated")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .option("--json", "print JSON", false)
    .action(async (opts: MasterFlags & { json: boolean }) => {
      const { jobs } = await onClusterLeader(opts, (c) => call(c.listJobs.bind(c), {}, 10_000));
      if (opts.json) return print(JSON.stringify(jobs.map((j) => ({ jobId: j.jobId, name: j.name, status: jobStatus.fromWire(j.status), stats: j.stats }))));
      for (const j of jobs) print(`${j.jobId}\t${j.name}\t${jobStatus.fromWire(j.status)}\t${j.stats?.tasksLaunched ?? 0} tasks\t${((j.stats?.wallTimeMs ?? 0) / 1000).toFixed(1)}s`);
      if (jobs.length === 0) print("no jobs");
    });
  program
    .command("executors")
    .description("list the executors the scheduler knows, with their state")
    .option("--master <host:port>", "scheduler address(es), comma-separated")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .option("--json", "print JSON", false)
    .action(async (opts: MasterFlags & { json: boolean }) => {
      const { executors } = await onClusterLeader(opts, (c) => call(c.listExecutors.bind(c), {}, 10_000));
      if (opts.json) return print(JSON.stringify(executors));
      for (const e of executors) print(`${e.executorId}\t${e.nodeId}\t${describeState(e.state || (e.alive ? "active" : "lost"), e.excludedUntilMs, e.stateReason || e.lostReason)}\t${e.runningTasks}/${e.slots} slots\tshuffle ${e.shuffleAddress}`);
      if (executors.length === 0) print("no executors");
    });
  program
    .command("nodes")
    .description("list the nodes with their state (active, excluded, decommissioning, decommissioned, lost)")
    .option("--master <host:port>", "scheduler address(es), comma-separated")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .option("--json", "print JSON", false)
    .action(async (opts: MasterFlags & { json: boolean }) => {
      const { nodes } = await onClusterLeader(opts, (c) => call(c.listNodes.bind(c), {}, 10_000));
      if (opts.json) return print(JSON.stringify(nodes.map((n) => ({ ...n, state: nodeStateName(n.state) }))));
      for (const n of nodes) print(`${n.nodeId}\t${describeState(nodeStateName(n.state), n.excludedUntilMs, n.reason)}\t${n.executorIds.length} executors\t${n.runningTasks} running\tfailure score ${n.failureScore.toFixed(2)}\tshuffle ${n.shuffleAddress}`);
      if (nodes.length === 0) print("no nodes");
    });
  program
    .command("decommission <node>")
    .description("drain a node and migrate its shuffle data to peers before it goes")
    .option("--deadline <duration>", "time the node has (e.g. 120s)", "120s")
    .option("--master <host:port>", "scheduler address(es), comma-separated")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .action(async (nodeId: string, opts: MasterFlags & { deadline: string }) => {
      const deadlineMs = parseDuration(opts.deadline);
      const { node } = await onClusterLeader(opts, (c) => call(c.decommissionNode.bind(c), { nodeId, deadlineMs }, 10_000));
      print(`${nodeId} is ${nodeStateName(node!.state)}; deadline ${new Date(node!.decommissionDeadlineMs).toISOString()}`);
    });
  program
    .command("recommission <node>")
    .description("undo a decommission while the node is still up")
    .option("--master <host:port>", "scheduler address(es), comma-separated")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .action(async (nodeId: string, opts: MasterFlags) => {
      const { node } = await onClusterLeader(opts, (c) => call(c.recommissionNode.bind(c), { nodeId }, 10_000));
      print(`${nodeId} is ${nodeStateName(node!.state)}`);
    });
  return program;
}

interface MasterFlags {
  master?: string;
  dir: string;
}

const print = (line: string) => void process.stdout.write(`${line}\n`);

/** Runs one call on the leading scheduler (following a failover). */
function onClusterLeader<T>(opts: MasterFlags, fn: (client: InstanceType<typeof SchedulerServiceClient>) => Promise<T>): Promise<T> {
  return onLeader((opts.master ?? readCluster(opts.dir).scheduler).split(",").filter(Boolean), fn, 15_000);
}

function nodeStateName(state: NodeState): string {
  return NodeState[state]?.replace("NODE_STATE_", "").toLowerCase() ?? "unknown";
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

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`ballast: ${describeCliError(err)}\n`);
    return err instanceof ExitError ? err.exitCode : err instanceof BallastError && !err.retryable ? 2 : 1;
  } finally {
    await shutdownTelemetry();
  }
}

function describeCliError(err: unknown): string {
  if (isServiceError(err) && err.code === 14) return `cannot reach the service: ${err.details}`;
  return describeError(err);
}
