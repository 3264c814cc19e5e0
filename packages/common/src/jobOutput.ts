/**
 * The layout of a saveAsTextFile directory and its job-level commit, as in
 * Hadoop's FileOutputCommitter: each task attempt writes under
 * OUT/_temporary/<taskId>/; the scheduler authorizes one attempt per
 * partition; at job commit the authorized attempts' parts are promoted to
 * OUT/part-NNNNN, OUT/_SUCCESS is written and _temporary is removed. Readers
 * trust a directory only with _SUCCESS in it.
 */
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { commitFile, writeFileDurable } from "./durable.js";

export const TEMPORARY_DIR = "_temporary";
export const SUCCESS_MARKER = "_SUCCESS";

export function partFileName(partition: number): string {
  return `part-${String(partition).padStart(5, "0")}`;
}

/** Where an attempt writes its partition before the job commit. */
export function attemptPartPath(dir: string, taskId: string, partition: number): string {
  return join(dir, TEMPORARY_DIR, taskId, partFileName(partition));
}

/**
 * Promotes `parts[p]`'s part-p for every partition, then writes _SUCCESS and
 * removes _temporary. Idempotent (a failover may run it twice): a part
 * already promoted is left as it is. If a part is missing, what this call
 * promoted is taken back and it throws: the directory never looks valid.
 */
export function commitJobDirectory(dir: string, parts: string[]): void {
  const promoted: string[] = [];
  try {
    parts.forEach((taskId, partition) => {
      const target = join(dir, partFileName(partition));
      const source = attemptPartPath(dir, taskId, partition);
      if (existsSync(source)) {
        commitFile(source, target);
        promoted.push(target);
      } else if (!existsSync(target)) {
        throw new Error(`the committed output of partition ${partition} (attempt ${taskId}) is missing`);
      }
    });
    writeFileDurable(join(dir, SUCCESS_MARKER), "");
  } catch (err) {
    for (const path of promoted) rmSync(path, { force: true });
    throw err;
  }
  rmSync(join(dir, TEMPORARY_DIR), { recursive: true, force: true });
}

/** A failed or cancelled job: every attempt's uncommitted output goes (nothing was promoted). */
export function abortJobDirectory(dir: string): void {
  rmSync(join(dir, TEMPORARY_DIR), { recursive: true, force: true });
}

/** A denied or failed attempt removes what it wrote, and _temporary itself once empty (a zombie after the job commit). */
export function discardAttempt(dir: string, taskId: string): void {
  rmSync(join(dir, TEMPORARY_DIR, taskId), { recursive: true, force: true });
  try {
    if (readdirSync(join(dir, TEMPORARY_DIR)).length === 0) rmdirSync(join(dir, TEMPORARY_DIR));
  } catch {
    // already gone, or another attempt is writing there: not ours to remove
  }
}
