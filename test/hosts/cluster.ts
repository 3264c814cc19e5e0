import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterFile, clusterSecret, stopCluster, type ClusterDescription, type ServiceName, type ServiceRecord } from "@ballast/cli/cluster";
import { writeFileDurable } from "@ballast/common/durable";
import { builtEntry } from "@ballast/common/entry";
import { isServing } from "@ballast/common/grpc";
import type { TestCluster } from "../support/cluster.js";
import { showLogsOnFailure } from "../support/serviceLogs.js";
import { waitUntil } from "../support/faults.js";
import { Network, type Host } from "./netns.js";
import { HostPostgres } from "./postgres.js";

/**
 * A Ballast cluster on test hosts: PostgreSQL, history, staging, two schedulers (active and
 * standby, sharing nothing but the database) and `nodes` nodes (executor + shuffle service),
 * each on its own namespace and address. It writes the same cluster.json as `ballast up`, so
 * `ballast submit --dir` and stopCluster work on it unchanged; services listen on Spark's
 * ports since every host has its own address.
 */
export const NODE_OCTET = 40; // node-i at SUBNET.(40+i)
const LEASE = "ballast.scheduler.leaseTimeout=2s";
const RECONNECT = "ballast.scheduler.recovery.executorReconnectTimeout=5s";

export interface HostCluster extends Omit<TestCluster, "stop"> {
  /** Stops every process and removes every namespace; `keepLogs` leaves the run's directory for a failing test to show. */
  stop(options?: { keepLogs?: boolean }): Promise<void>;
  network: Network;
  postgres: HostPostgres;
  /** Test host names: "scheduler-1", "scheduler-2", "staging", "history", "pg", "node-1", ... */
  hostNames: string[];
  nodeHosts: string[];
}

export interface HostClusterOptions {
  nodes: number;
  slots: number;
  env: Record<string, string>;
  schedulerConf?: string[];
}

export async function startHostCluster(options: HostClusterOptions): Promise<HostCluster> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-hosts-"));
  const network = await Network.create();
  let postgres: HostPostgres | undefined;
  const forgetLogs = showLogsOnFailure(join(dir, "logs"));
  const stop = async ({ keepLogs = false } = {}) => {
    if (!keepLogs) forgetLogs();
    // Processes first: a namespace with a process in it outlives `ip netns del`.
    await stopCluster(dir, 3000).catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    network.teardown();
    if (keepLogs) console.warn(`host cluster logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  try {
    postgres = new HostPostgres(network, network.addHost("pg", 20), dir);
    const cluster = await launchAll(dir, network, postgres, options);
    return { ...cluster, network, postgres, hostNames: [...network.hosts.keys()], nodeHosts: [...network.hosts.keys()].filter((h) => h.startsWith("node-")), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function launchAll(dir: string, network: Network, postgres: HostPostgres, options: HostClusterOptions): Promise<ClusterDescription> {
  mkdirSync(join(dir, "logs"), { recursive: true });
  postgres.init();
  await postgres.start();
  const history = network.addHost("history", 30);
  const staging = network.addHost("staging", 31);
  const schedulerHosts = [network.addHost("scheduler-1", 11), network.addHost("scheduler-2", 12)];
  const nodeHosts = Array.from({ length: options.nodes }, (_, i) => network.addHost(`node-${i + 1}`, NODE_OCTET + i + 1));
  const at = (host: Host, port: number) => `${host.ip}:${port}`;
  const cluster: ClusterDescription = {
    dir,
    scheduler: schedulerHosts.map((h) => at(h, 7077)).join(","),
    staging: at(staging, 10000),
    history: at(history, 18081),
    historyHttp: at(history, 18080),
    // Every service gets the cluster secret through BALLAST_SECRET_FILE (test/support/auth.ts), and DIR/secret holds it for the CLI.
    secretFile: clusterSecret(dir, process.env.BALLAST_SECRET_FILE),
    services: [],
  };
  const plan = (name: ServiceName, host: Host, address: string, args: string[], env: Record<string, string> = {}, nodeId?: string): ServiceRecord => {
    const id = host.name === name ? name : `${host.name}-${name}`;
    const dataDir = join(dir, id);
    const record: ServiceRecord = { name, nodeId, address, pid: 0, dataDir, log: join(dir, "logs", `${id}.log`), args: [...args, "--data-dir", dataDir], env: { ...options.env, ...env } };
    if (name === "scheduler") record.instance = host.name;
    cluster.services.push(record);
    return record;
  };
  const conf = [LEASE, RECONNECT, ...(options.schedulerConf ?? [])].flatMap((c) => ["--conf", c]);
  await Promise.all([
    // History keeps its event logs on the PostgreSQL host too, as a multi-host deploy does.
    launch(history, plan("history", history, cluster.history, ["--address", cluster.history, "--http-address", cluster.historyHttp], { BALLAST_STORE: postgres.url }), cluster),
    launch(staging, plan("staging", staging, cluster.staging, ["--address", cluster.staging]), cluster),
  ]);
  // The first scheduler started leads; the second stands by on the same database.
  for (const host of schedulerHosts) await launch(host, plan("scheduler", host, at(host, 7077), ["--address", at(host, 7077), "--history", cluster.history, "--staging", cluster.staging, ...conf], { BALLAST_STORE: postgres.url }), cluster);
  for (const host of nodeHosts) {
    const shuffle = at(host, 7337);
    const executor = at(host, 7078);
    await launch(host, plan("shuffle", host, shuffle, ["--address", shuffle, "--node-id", host.name], {}, host.name), cluster);
    const executorArgs = ["--address", executor, "--host", host.ip, "--node-id", host.name, "--scheduler", cluster.scheduler, "--shuffle", shuffle, "--staging", cluster.staging, "--slots", String(options.slots)];
    await launch(host, plan("executor", host, executor, executorArgs, {}, host.name), cluster);
  }
  return cluster;
}

/** Spawns a service inside its host's namespace and waits for SERVING, seen from the operator's side. */
async function launch(host: Host, service: ServiceRecord, cluster: ClusterDescription, timeoutMs = 60_000): Promise<void> {
  mkdirSync(service.dataDir, { recursive: true });
  const log = openSync(service.log, "a");
  const child = spawn("ip", ["netns", "exec", host.ns, process.execPath, builtEntry(`@ballast/${service.name}`), ...service.args], {
    cwd: service.dataDir,
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, ...service.env },
  });
  closeSync(log);
  child.unref();
  let exited: number | null = null;
  child.once("exit", (code) => (exited = code ?? -1));
  service.pid = child.pid ?? 0; // `ip netns exec` execs node, so this is the service's pid
  writeFileDurable(clusterFile(cluster.dir), JSON.stringify(cluster, null, 2));
  await waitUntil(`${service.name} on ${host.name} to serve`, async () => {
    if (exited !== null) throw new Error(`${service.name} on ${host.name} exited with ${exited}; see ${service.log}`);
    return isServing(service.address, 500);
  }, timeoutMs);
}
