import { decodeCollected } from "ballast";
import type { JobStatus } from "@ballast/common/domain/states";
import type { JobStats } from "@ballast/common/domain/stats";
import type { JobView } from "@ballast/common/domain/views";
import type { ActionKind } from "@ballast/common/plan";

export interface JobOutcome {
  jobId: string;
  status: JobStatus;
  ok: boolean;
  action: ActionKind | undefined;
  records?: unknown[];
  count?: number;
  outputUri?: string;
  stats: JobStats & { clientWallTimeMs: number };
  error?: { message: string; stack: string };
  /** The job's trace, when this process submitted it. */
  traceId?: string;
}

export function summarize(job: JobView, clientWallTimeMs: number): JobOutcome {
  const result = job.result;
  const action = result?.action;
  return {
    jobId: job.jobId,
    status: job.status,
    ok: job.status === "succeeded",
    action,
    records: action === "collect" ? decodeCollected(result!.partitionRecords) : undefined,
    count: action === "count" ? result!.count : undefined,
    outputUri: action === "saveAsTextFile" ? result!.outputUri : undefined,
    stats: { ...job.stats, clientWallTimeMs },
    error: job.error && { message: job.error.message, stack: job.error.stack },
  };
}

/** The one JSON line `--json` ends with. */
export function outcomeJson(outcome: JobOutcome): string {
  const result = outcome.action === "collect" ? outcome.records : outcome.action === "count" ? outcome.count : outcome.outputUri;
  return JSON.stringify({ jobId: outcome.jobId, status: outcome.status, result, stats: outcome.stats, error: outcome.error });
}

/** Human output: results, then stats. */
export function outcomeText(outcome: JobOutcome, maxRecords = 50): string {
  const lines: string[] = [];
  if (!outcome.ok) {
    lines.push(`job ${outcome.jobId} ${outcome.status}: ${outcome.error?.message ?? "no reason given"}`);
    if (outcome.error?.stack) lines.push(outcome.error.stack);
    return lines.join("\n");
  }
  if (outcome.action === "collect") {
    const records = outcome.records ?? [];
    for (const r of records.slice(0, maxRecords)) lines.push(formatRecord(r));
    if (records.length > maxRecords) lines.push(`... ${records.length - maxRecords} more records (use --json for all)`);
  } else if (outcome.action === "count") lines.push(String(outcome.count));
  else lines.push(`output committed to ${outcome.outputUri}`);
  const s = outcome.stats;
  lines.push(`job ${outcome.jobId} succeeded in ${(s.clientWallTimeMs / 1000).toFixed(2)}s: ${s.tasksLaunched} tasks, ${s.stageAttempts} stage attempts, ${s.taskAttemptsFailed} failed task attempts, ${formatBytes(s.shuffleBytesWritten)} shuffled`);
  return lines.join("\n");
}

export function formatRecord(record: unknown): string {
  if (Array.isArray(record) && record.length === 2) return `${fmt(record[0])}\t${fmt(record[1])}`;
  return fmt(record);
}

const fmt = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
