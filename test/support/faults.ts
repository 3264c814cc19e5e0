import { existsSync, readFileSync } from "node:fs";
import { isAlive, type ClusterDescription, type ServiceRecord } from "@ballast/cli/cluster";
import { mintToken, readSecretFile } from "@ballast/common/auth";

/** One line of the executors' test task-events file (BALLAST_TEST_TASK_EVENTS_FILE). */
export interface TaskEvent {
  taskId: string;
  stageId: number;
  partition: number;
  attempt: number;
  event: "start" | "end";
  state?: string;
  executorId?: string;
  nodeId?: string;
  jobId?: string;
  /** End events of an application's jobs: cached partitions read, and persisted partitions computed and kept. */
  cachedRead?: number;
  cachedKept?: number;
}

export function readTaskEvents(file: string): TaskEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TaskEvent);
}

/** Polls `condition` until it holds, failing after `timeoutMs` with `what`. */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function service(cluster: ClusterDescription, name: ServiceRecord["name"], nodeId?: string): ServiceRecord {
  const found = cluster.services.find((s) => s.name === name && s.nodeId === nodeId);
  if (!found) throw new Error(`no ${name} on ${nodeId}`);
  return found;
}

/** SIGKILLs a node: its executor and its shuffle service. */
export function killNode(cluster: ClusterDescription, nodeId: string): void {
  process.kill(service(cluster, "executor", nodeId).pid, "SIGKILL");
  process.kill(service(cluster, "shuffle", nodeId).pid, "SIGKILL");
}

/** Events from the history service's JSON API (flattened: {seq, type, ...fields}): the job's, or all with jobId "". */
export async function historyEvents(cluster: ClusterDescription, jobId: string): Promise<Array<Record<string, any>>> {
  const base = `http://${cluster.historyHttp}/api/v1/applications`;
  // The cluster's own token, from its secret: benches use this too, outside a test's set-up.
  const headers = { authorization: `Bearer ${mintToken(readSecretFile(cluster.secretFile), { role: "cluster" })}` };
  const apps = (await (await fetch(base, { headers })).json()) as { applications: Array<{ applicationId: string }> };
  const events: Array<Record<string, any>> = [];
  for (const app of apps.applications) {
    const filter = jobId ? `job=${encodeURIComponent(jobId)}&` : "";
    const res = await fetch(`${base}/${app.applicationId}/events?${filter}limit=10000`, { headers });
    if (res.ok) events.push(...((await res.json()) as { events: Array<Record<string, any>> }).events);
  }
  return events;
}

/** Waits until history has the job's end (the outbox ships asynchronously). */
export async function jobHistory(cluster: ClusterDescription, jobId: string): Promise<Array<Record<string, any>>> {
  let events: Array<Record<string, any>> = [];
  await waitUntil(`history to receive the end of ${jobId}`, async () => {
    events = await historyEvents(cluster, jobId);
    return events.some((e) => e.type === "jobEnded");
  }, 20_000);
  return events;
}

/** SIGKILLs a process and waits until it is gone (signal delivery is asynchronous). */
export async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, "SIGKILL");
  await waitUntil(`pid ${pid} to die`, () => !isAlive(pid), 10_000);
}
