import { ActionKind, JobStatus, type JobInfo, type JobStats } from "@ballast/gen/common";
import { decodeCollected } from "ballast";
import { jobStatus } from "@ballast/common/wire/plan";

export interface JobOutcome {
  jobId: string;
  status: "running" | "succeeded" | "failed" | "cancelled";
  ok: boolean;
  action: "collect" | "count" | "saveAsTextFile" | undefined;
  records?: unknown[];
  count?: number;
  outputUri?: string;
  stats: JobStats & { clientWallTimeMs: number };
  error?: { message: string; stack: string };
}

export function summarize(job: JobInfo, clientWallTimeMs: number): JobOutcome {
  const result = job.result;
  const action = result?.action === ActionKind.ACTION_KIND_COLLECT ? "collect" : result?.action === ActionKind.ACTION_KIND_COUNT ? "count" : result?.action === ActionKind.ACTION_KIND_SAVE_AS_TEXT_FILE ? "saveAsTextFile" : undefined;
  return {
    jobId: job.jobId,
    status: jobStatus.fromWire(job.status),
    ok: job.status === JobStatus.JOB_STATUS_SUCCEEDED,
    action,
    records: action === "collect" ? decodeCollected(result!.partitionRecords) : undefined,
    count: action === "count" ? result!.count : undefined,
    outputUri: action === "saveAsTextFile" ? result!.outputUri : undefined,
    stats: { ...(job.stats as JobStats), clientWallTimeMs },
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
