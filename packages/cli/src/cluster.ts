import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, closeSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { ensureSecretFile } from "@ballast/common/auth";
import { writeFileDurable } from "@ballast/common/durable";
import { builtEntry } from "@ballast/common/entry";
import { InvalidArgumentError } from "@ballast/common/errors";
import { isServing } from "@ballast/common/grpc";
import { freePort } from "@ballast/common/ports";
import { configureSecurity, processSecurity } from "@ballast/common/security";
import { issueCertificates } from "./certificates.js";
import { tlsFlags, tlsOfDir } from "./tls.js";

/**
 * Starts and stops a local cluster of real processes: scheduler, staging,
 * history, and N nodes (executor + shuffle service on their own loopback
 * address). The same code backs `ballast up`, `ballast run`, the demo and
 * the integration tests.
 */
export type ServiceName = "scheduler" | "staging" | "history" | "shuffle" | "executor";

export interface ServiceRecord {
  name: ServiceName;
  nodeId?: string;
  /** Which of several schedulers ("scheduler-2"). */
  instance?: string;
  address: string;
  httpAddress?: string;
  pid: number;
  dataDir: string;
  log: string;
  /** Arguments to main.ts, so `ballast start` can restart it the same way. */
  args: string[];
  env?: Record<string, string>;
}

export interface ClusterDescription {
  dir: string;
  scheduler: string;
  staging: string;
  history: string;
  historyHttp: string;
  /** The cluster secret every service verifies tokens with (mode 0600). */
  secretFile: string;
  /** Every service speaks (mutual) TLS with certificates from DIR/tls; history serves HTTPS. */
  tls?: boolean;
  services: ServiceRecord[];
}

export interface ClusterOptions {
  dir: string;
  nodes?: number;
  /** Schedulers sharing one store: the first leads, the others stand by. */
  schedulers?: number;
  /** postgresql://... : the schedulers' store; each scheduler then has its own data directory. */
  store?: string;
  /** "default": Spark's ports (7077, 10000, 18080/18081, 7337, 7078); "auto": free ports (tests, `ballast run`). */
  ports?: "default" | "auto";
  /** Task slots per executor; default: the machine's cores shared among the nodes (CPU-bound tasks slow down badly when oversubscribed). */
  slots?: number;
  /** Extra `--conf key=value` defaults for the scheduler. */
  schedulerConf?: string[];
  /** Extra environment for every service (e.g. fault hooks in tests). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /**
   * Use this cluster secret (copied to DIR/secret) instead of a new random one; default
   * BALLAST_SECRET_FILE, the secret the CLI would mint its tokens from. An existing DIR/secret is kept.
   */
  secretFile?: string;
  /** Make a CA and per-service certificates (DIR/tls) and run every service over mutual TLS. */
  tls?: boolean;
}

/** The built entry of a service, found through its package. */
const mainOf = (name: ServiceName) => builtEntry(`@ballast/${name}`);

/**
 * Node flags a service runs with. The scheduler's semi-spaces (V8's young generation) are capped
 * at 2 MiB: V8 grows them up to 16 MiB each under a burst of allocation (a job's submission) and
 * shrinks them only on later idle GCs, so an idle scheduler's RSS said how busy its last seconds
 * were rather than what it holds. The smaller young generation cost no measurable throughput on
 * the empty-task bench (README, issue 10: endurance and empty-task figures).
 */
const NODE_FLAGS: Partial<Record<ServiceName, string[]>> = { scheduler: ["--max-semi-space-size=2"] };
export const clusterFile = (dir: string) => join(resolve(dir), "cluster.json");

export { freePort };

async function portFor(mode: "default" | "auto", host: string, fixed: number): Promise<number> {
  return mode === "auto" ? freePort(host) : fixed;
}

export function defaultSlots(nodes: number): number {
  return Math.max(1, Math.floor(availableParallelism() / nodes));
}

export async function startCluster(options: ClusterOptions): Promise<ClusterDescription> {
  const dir = resolve(options.dir);
  const nodes = options.nodes ?? 2;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 200) throw new InvalidArgumentError(`--nodes must be between 1 and 200, got ${options.nodes}`);
  if (existsSync(clusterFile(dir)) && anyAlive(readCluster(dir))) throw new InvalidArgumentError(`a cluster is already running in ${dir} (run \`ballast down --dir ${options.dir}\` first)`);
  if (options.slots !== undefined && (!Number.isInteger(options.slots) || options.slots < 1)) throw new InvalidArgumentError(`--slots must be a whole number of at least 1, got ${options.slots}`);
  mkdirSync(join(dir, "logs"), { recursive: true });
  const secretFile = clusterSecret(dir, options.secretFile ?? (process.env.BALLAST_SECRET_FILE || undefined));
  const mode = options.ports ?? "default";
  const host = "127.0.0.1";
  const schedulerCount = options.schedulers ?? 1;
  if (!Number.isInteger(schedulerCount) || schedulerCount < 1 || schedulerCount > 5) throw new InvalidArgumentError(`--schedulers must be between 1 and 5, got ${options.schedulers}`);
  const schedulerAddresses: string[] = [];
  for (let i = 0; i < schedulerCount; i++) schedulerAddresses.push(`${host}:${await portFor(mode, host, 7077 + i * 100)}`);
  const scheduler = schedulerAddresses.join(",");
  const staging = `${host}:${await portFor(mode, host, 10000)}`;
  const history = `${host}:${await portFor(mode, host, 18081)}`;
  const historyHttp = `${host}:${await portFor(mode, host, 18080)}`;
  const env = options.env ?? {};
  const conf = (options.schedulerConf ?? []).flatMap((c) => ["--conf", c]);
  // In the environment, not argv: the URL may carry a password. History keeps its logs there too.
  const storeEnv = options.store ? { ...env, BALLAST_STORE: options.store } : env;
  const security = ["--secret-file", secretFile];
  const plans: ServiceRecord[] = [
    record("history", dir, history, ["--address", history, "--http-address", historyHttp, ...security], storeEnv, undefined, historyHttp),
    record("staging", dir, staging, ["--address", staging, ...security], env),
    ...schedulerAddresses.map((address, i) => {
      const instance = schedulerCount > 1 ? `scheduler-${i + 1}` : undefined;
      // With PostgreSQL nothing but the database is shared, as on separate hosts; with SQLite
      // standbys share the leader's data directory (lease, event log). Each has its own log file.
      const dataDir = options.store && instance ? join(dir, instance) : undefined;
      const s = record("scheduler", dir, address, ["--address", address, "--history", history, "--staging", staging, ...conf, ...security], storeEnv, undefined, undefined, dataDir);
      if (instance) Object.assign(s, { instance, log: join(dir, "logs", `${instance}.log`) });
      return s;
    }),
  ];
  const cluster: ClusterDescription = { dir, scheduler, staging, history, historyHttp, secretFile, tls: options.tls, services: plans };
  for (let i = 1; i <= nodes; i++) plans.push(...(await nodeRecords(cluster, i, mode, options.slots ?? defaultSlots(nodes), env)));
  if (options.tls) secureWithTls(cluster, plans, true);
  try {
    // Storage services first so the scheduler and executors find them up.
    await Promise.all(plans.filter((s) => s.name !== "executor" && s.name !== "scheduler").map((s) => launch(s, cluster, options.startTimeoutMs)));
    for (const s of plans.filter((p) => p.name === "scheduler")) await launch(s, cluster, options.startTimeoutMs);
    await Promise.all(plans.filter((s) => s.name === "executor").map((s) => launch(s, cluster, options.startTimeoutMs)));
  } catch (err) {
    await stopCluster(dir);
    throw err;
  }
  return cluster;
}

/** DIR/secret: kept if there (clients minted tokens from it), else a copy of `from`, else 32 new random bytes. */
export function clusterSecret(dir: string, from?: string): string {
  const file = join(dir, "secret");
  if (!existsSync(file) && from) {
    copyFileSync(from, file);
    chmodSync(file, 0o600);
  }
  ensureSecretFile(file);
  return file;
}

/** The shuffle service and executor of node i, on loopback address 127.0.0.(i+1). */
async function nodeRecords(cluster: ClusterDescription, i: number, mode: "default" | "auto", slots: number, env: Record<string, string>): Promise<ServiceRecord[]> {
  const nodeId = `node-${i}`;
  const nodeHost = `127.0.0.${i + 1}`;
  const shuffle = `${nodeHost}:${await portFor(mode, nodeHost, 7337)}`;
  const executorAddress = `${nodeHost}:${await portFor(mode, nodeHost, 7078)}`;
  const executorArgs = ["--address", executorAddress, "--host", nodeHost, "--node-id", nodeId, "--scheduler", cluster.scheduler, "--shuffle", shuffle, "--staging", cluster.staging, "--slots", String(slots), "--secret-file", cluster.secretFile];
  return [record("shuffle", cluster.dir, shuffle, ["--address", shuffle, "--node-id", nodeId, "--secret-file", cluster.secretFile], env, nodeId), record("executor", cluster.dir, executorAddress, executorArgs, env, nodeId)];
}

/** Adds a fresh node (shuffle service + executor) to a running local cluster, as a scale-out would. */
export async function addNode(dir: string, options: { slots?: number; env?: Record<string, string> } = {}): Promise<string> {
  const cluster = readCluster(dir);
  const taken = new Set(cluster.services.map((s) => s.nodeId).filter(Boolean));
  let i = 1;
  while (taken.has(`node-${i}`)) i++;
  const records = await nodeRecords(cluster, i, "auto", options.slots ?? 1, options.env ?? cluster.services[0]?.env ?? {});
  if (cluster.tls) secureWithTls(cluster, records, false);
  cluster.services.push(...records);
  for (const service of records) await launch(service, cluster);
  return `node-${i}`;
}

/** The name of a service's log and certificate files: "scheduler", "scheduler-2", "node-1-shuffle". */
const serviceId = (s: ServiceRecord) => (s.nodeId ? `${s.nodeId}-${s.name}` : (s.instance ?? s.name));

/**
 * Certificates for these services, each for the host it listens on, and their TLS flags; this
 * process (the launcher, which health-checks them) then talks TLS too, with the CLI's client certificate.
 */
function secureWithTls(cluster: ClusterDescription, services: ServiceRecord[], withClient: boolean): void {
  const hostOf = (address: string) => address.slice(0, address.lastIndexOf(":"));
  const requests = services.map((s) => ({ id: serviceId(s), hosts: [hostOf(s.address)] }));
  const issued = issueCertificates(cluster.dir, withClient ? [...requests, { id: "client", hosts: [] }] : requests);
  for (const s of services) s.args.push(...tlsFlags(issued.get(serviceId(s))!));
  configureSecurity({ ...processSecurity(), ...tlsOfDir(cluster.dir) });
}

/** How a browser reaches the history UI of a cluster. */
export const historyUrlOf = (cluster: ClusterDescription) => `${cluster.tls ? "https" : "http"}://${cluster.historyHttp}`;

function record(name: ServiceName, dir: string, address: string, args: string[], env: Record<string, string>, nodeId?: string, httpAddress?: string, ownDataDir?: string): ServiceRecord {
  const id = nodeId ? `${nodeId}-${name}` : name;
  const dataDir = ownDataDir ?? join(dir, nodeId ?? "", name);
  return { name, nodeId, address, httpAddress, pid: 0, dataDir, log: join(dir, "logs", `${id}.log`), args: [...args, "--data-dir", dataDir], env };
}

/** Spawns one service detached (it outlives `ballast up`), waits for SERVING on gRPC health, records its pid. */
async function launch(service: ServiceRecord, cluster: ClusterDescription, timeoutMs = 60_000): Promise<void> {
  mkdirSync(service.dataDir, { recursive: true });
  const logFd = openSync(service.log, "a");
  const child = spawn(process.execPath, [...(NODE_FLAGS[service.name] ?? []), mainOf(service.name), ...service.args], {
    cwd: service.dataDir,
    detached: true,
    stdio: ["ignore", logFd, logFd],
    env: { ...process.env, ...service.env },
  });
  closeSync(logFd);
  let exitCode: number | null = null;
  child.once("exit", (code) => (exitCode = code ?? -1));
  child.unref();
  service.pid = child.pid ?? 0;
  writeFileDurable(clusterFile(cluster.dir), JSON.stringify(cluster, null, 2));
  const deadline = Date.now() + timeoutMs;
  while (!(await isServing(service.address, 500))) {
    if (exitCode !== null) throw new Error(`${describe(service)} exited with code ${exitCode} during start-up; log ${service.log}:\n${tail(service.log)}`);
    if (Date.now() > deadline) throw new Error(`${describe(service)} did not report SERVING within ${timeoutMs / 1000}s; log ${service.log}:\n${tail(service.log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const describe = (s: ServiceRecord) => (s.nodeId ? `${s.name} of ${s.nodeId}` : (s.instance ?? s.name)) + ` (${s.address})`;

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export function readCluster(dir: string): ClusterDescription {
  const file = clusterFile(dir);
  if (!existsSync(file)) throw new InvalidArgumentError(`no cluster in ${resolve(dir)} (start one with \`ballast up --dir ${dir}\`)`);
  return JSON.parse(readFileSync(file, "utf8")) as ClusterDescription;
}

export function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !isZombie(pid);
}

/** A killed process whose parent has not reaped it yet still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}

const anyAlive = (cluster: ClusterDescription) => cluster.services.some((s) => isAlive(s.pid));

/** SIGTERM every service, then SIGKILL what is still alive after `graceMs`. */
export async function stopCluster(dir: string, graceMs = 5000): Promise<number> {
  if (!existsSync(clusterFile(dir))) return 0;
  const cluster = readCluster(dir);
  // Executors first, so they do not report the others' shutdown as failures.
  const order = [...cluster.services].sort((a, b) => Number(b.name === "executor") - Number(a.name === "executor"));
  let stopped = 0;
  for (const s of order) {
    if (!isAlive(s.pid)) continue;
    // SIGTERM to an executor means "decommission my node and hand over"; stopping the cluster wants it gone now.
    process.kill(s.pid, s.name === "executor" ? "SIGINT" : "SIGTERM");
    stopped++;
  }
  const deadline = Date.now() + graceMs;
  while (anyAlive(cluster) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const s of cluster.services) if (isAlive(s.pid)) process.kill(s.pid, "SIGKILL");
  return stopped;
}

/** Starts one service of an existing cluster again, with its old address and data directory. */
export async function restartService(dir: string, name: ServiceName, nodeId?: string): Promise<ServiceRecord> {
  const cluster = readCluster(dir);
  let matches = cluster.services.filter((s) => s.name === name && (nodeId === undefined || s.nodeId === nodeId || s.instance === nodeId));
  if (matches.length === 0) throw new InvalidArgumentError(`no ${name}${nodeId ? ` on ${nodeId}` : ""} in this cluster`);
  // Several of a kind (nodes, or a standby scheduler): the one that is down is meant.
  if (matches.length > 1 && nodeId === undefined) {
    const down = matches.filter((s) => !isAlive(s.pid));
    if (down.length > 0) matches = down;
  }
  if (matches.length > 1) throw new InvalidArgumentError(`${name} runs on several nodes; say which with --node (${matches.map((s) => s.nodeId ?? s.instance).join(", ")})`);
  const service = matches[0]!;
  if (isAlive(service.pid)) throw new InvalidArgumentError(`${describe(service)} is already running (pid ${service.pid})`);
  await launch(service, cluster);
  return service;
}

/** Kills one service process (tests use SIGKILL/SIGSTOP for real faults). */
export function signalService(cluster: ClusterDescription, name: ServiceName, nodeId: string | undefined, signal: NodeJS.Signals): ServiceRecord {
  const service = cluster.services.find((s) => s.name === name && s.nodeId === nodeId);
  if (!service) throw new InvalidArgumentError(`no ${name} ${nodeId ?? ""}`);
  process.kill(service.pid, signal);
  return service;
}
