import { historyUrlOf, restartService, startCluster, stopCluster, type ServiceName } from "../cluster.js";
import { isPostgresUrl } from "@ballast/common/storeUrl";
import { ExitError } from "../exit.js";

const SERVICES: ServiceName[] = ["scheduler", "staging", "history", "shuffle", "executor"];

export interface UpFlags {
  nodes: string;
  dir: string;
  slots?: string;
  ports: string;
  schedulers: string;
  store?: string;
  tls?: boolean;
}

/** `ballast up`: a local cluster of real processes. */
export async function up(opts: UpFlags): Promise<void> {
  if (opts.ports !== "default" && opts.ports !== "auto") throw new ExitError(`--ports must be default or auto, got "${opts.ports}"`, 2);
  if (opts.store && !isPostgresUrl(opts.store)) throw new ExitError(`--store must be a postgresql:// URL, got "${opts.store}"`, 2);
  const slots = opts.slots === undefined ? undefined : Number(opts.slots);
  const cluster = await startCluster({ dir: opts.dir, nodes: Number(opts.nodes), slots, ports: opts.ports, schedulers: Number(opts.schedulers), store: opts.store, tls: opts.tls });
  const nodes = cluster.services.filter((s) => s.name === "executor").length;
  process.stdout.write(`cluster up in ${cluster.dir}: scheduler ${cluster.scheduler}, staging ${cluster.staging}, history ${historyUrlOf(cluster)}, ${nodes} nodes${cluster.tls ? ", mutual TLS (DIR/tls)" : ""}\n`);
}

/** `ballast down`. */
export async function down(opts: { dir: string }): Promise<void> {
  const stopped = await stopCluster(opts.dir);
  process.stdout.write(`stopped ${stopped} processes\n`);
}

/** `ballast start SERVICE`: one service of the cluster again, with its old address and data. */
export async function start(service: string, opts: { node?: string; dir: string }): Promise<void> {
  if (!SERVICES.includes(service as ServiceName)) throw new ExitError(`unknown service "${service}" (scheduler, staging, history, shuffle or executor)`, 2);
  const started = await restartService(opts.dir, service as ServiceName, opts.node);
  process.stdout.write(`started ${service}${started.nodeId ? ` on ${started.nodeId}` : ""} at ${started.address} (pid ${started.pid})\n`);
}
