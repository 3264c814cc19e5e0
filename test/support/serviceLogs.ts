import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { beforeEach, expect } from "vitest";
import { routeLogsTo } from "@ballast/common/logging";

/**
 * Service logs stay out of the test run's output: in-process loggers write to one file per test
 * file, spawned clusters to their own DIR/logs/. A failing test prints what was logged while it
 * ran (the tail of each log), so the logs are there exactly when someone needs them.
 * Runs as a vitest setup file, before each test file, in the test file's own module graph.
 */

const TAIL_BYTES = 16 * 1024;
const testFile = expect.getState().testPath ?? "unknown";
const ownLog = join(tmpdir(), "ballast-test-logs", `${basename(testFile)}-${process.pid}.log`);
const clusterLogDirs = new Set<string>();
routeLogsTo(ownLog);

/** A cluster's log directory, shown with a failing test while the cluster runs. */
export function showLogsOnFailure(logDir: string): () => void {
  clusterLogDirs.add(logDir);
  return () => void clusterLogDirs.delete(logDir);
}

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/** The bytes of `path` after `from`, at most the last TAIL_BYTES of them. */
function readSince(path: string, from: number): string {
  const size = sizeOf(path);
  const start = Math.max(from, size - TAIL_BYTES);
  if (size <= start) return "";
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(size - start);
    readSync(fd, buffer, 0, buffer.length, start);
    return `${start > from ? "...\n" : ""}${buffer.toString("utf8")}`;
  } finally {
    closeSync(fd);
  }
}

function logFiles(): string[] {
  const inDirs = [...clusterLogDirs].flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".log")).map((f) => join(dir, f)) : []));
  return [ownLog, ...inDirs];
}

beforeEach(({ onTestFailed }) => {
  const offsets = new Map(logFiles().map((file) => [file, sizeOf(file)]));
  onTestFailed(() => {
    for (const file of logFiles()) {
      const text = readSince(file, offsets.get(file) ?? 0);
      if (text) process.stderr.write(`\n----- ${file} (logged during the failing test) -----\n${text}\n`);
    }
  });
});
