/** How `ballast submit` prints an application's end: the returned value, then one line per job. */
import type { ApplicationOutcome } from "./application.js";
import { formatBytes } from "./outcome.js";

/** Maps (countByKey) become objects when their keys can be JSON keys, else lists of entries. */
function jsonValue(_key: string, value: unknown): unknown {
  if (!(value instanceof Map)) return value;
  const entries = [...value.entries()];
  const plainKeys = entries.every(([key]) => typeof key === "string" || typeof key === "number");
  return plainKeys ? Object.fromEntries(entries) : entries;
}

/** The one JSON line `--json` ends with. */
export function applicationJson(outcome: ApplicationOutcome): string {
  const jobs = outcome.jobs.map((job) => ({ jobId: job.jobId, status: job.status, action: job.action, stats: job.stats }));
  const { applicationId, status, result, error } = outcome;
  return JSON.stringify({ applicationId, status, result, jobs, clientWallTimeMs: outcome.clientWallTimeMs, error }, jsonValue);
}

export function applicationText(outcome: ApplicationOutcome): string {
  const lines: string[] = [];
  if (outcome.ok) {
    lines.push(typeof outcome.result === "string" ? outcome.result : JSON.stringify(outcome.result, jsonValue, 2) ?? "undefined");
  } else {
    lines.push(`application ${outcome.applicationId} ${outcome.status}: ${outcome.error?.message ?? "no reason given"}`);
    if (outcome.error?.stack) lines.push(outcome.error.stack);
  }
  for (const [index, job] of outcome.jobs.entries()) {
    const s = job.stats;
    lines.push(`  action #${index + 1} ${job.action ?? ""}: job ${job.jobId} ${job.status} in ${(s.clientWallTimeMs / 1000).toFixed(2)}s, ${s.tasksLaunched} tasks, ${formatBytes(s.shuffleBytesWritten)} shuffled`);
  }
  const verb = outcome.ok ? "succeeded" : outcome.status;
  lines.push(`application ${outcome.applicationId} ${verb} in ${(outcome.clientWallTimeMs / 1000).toFixed(2)}s: ${outcome.jobs.length} jobs`);
  return lines.join("\n");
}
