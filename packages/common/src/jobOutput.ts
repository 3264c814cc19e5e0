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

/**
 * staging://PREFIX outputs keep the same layout in names (staging's names are its directories):
 * attempts name their part PREFIX/_temporary/<taskId>/part-NNNNN, and the job commit is one
 * StagingService.Promote. PREFIX may not be empty: its commit replaces everything under PREFIX/.
 */
export function stagingOutputPrefix(outputUri: string): string {
  const prefix = outputUri.slice("staging://".length).replace(/\/+$/, "");
  if (!outputUri.startsWith("staging://") || prefix === "") throw new Error(`a staging output needs a name to write under (staging://out), got ${JSON.stringify(outputUri)}`);
  return prefix;
}

/** The name an attempt gives its partition in staging before the job commit. */
export function attemptPartName(prefix: string, taskId: string, partition: number): string {
  return `${prefix}/${TEMPORARY_DIR}/${taskId}/${partFileName(partition)}`;
}

/** What staging binds and removes to commit a job's output (names already in the store's own space). */
export interface OutputPromotion {
  bindings: Array<{ name: string; sourceName: string } | { name: string; sha256: string }>;
  removePrefix: string;
}

/** The commit: each committed attempt's part to PREFIX/part-NNNNN, _SUCCESS to `markerSha256`; everything else under PREFIX/ goes. */
export function stagingCommitPromotion(prefix: string, parts: string[], markerSha256: string): OutputPromotion {
  const bindings: OutputPromotion["bindings"] = parts.map((taskId, partition) => ({ name: `${prefix}/${partFileName(partition)}`, sourceName: attemptPartName(prefix, taskId, partition) }));
  bindings.push({ name: `${prefix}/${SUCCESS_MARKER}`, sha256: markerSha256 });
  return { bindings, removePrefix: `${prefix}/` };
}

/** A failed or cancelled job: its attempts' temporary names go (nothing was promoted). */
export function stagingAbortPromotion(prefix: string): OutputPromotion {
  return { bindings: [], removePrefix: `${prefix}/${TEMPORARY_DIR}/` };
}
