import { existsSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

/** A file used this recently may be about to be opened by a task: never evicted. */
const IN_USE_MS = 60_000;

/**
 * A file touched this recently is known to be there (trim keeps it for IN_USE_MS): its next use
 * skips the existence check and the mtime write, which were the largest executor cost of an empty task.
 */
const RETOUCH_MS = IN_USE_MS / 6;

/**
 * Bounds a directory of cached files (downloaded bundles, staged inputs) to
 * `maxBytes`, least recently used first: every use touches the file's mtime,
 * and after each new file the oldest are removed until the directory fits.
 * Files used in the last minute stay even over the bound (a task may be about
 * to read them); an open file survives removal on POSIX anyway.
 */
export class DiskLru {
  /** When this process last touched each file it found present. */
  private readonly touchedAt = new Map<string, number>();

  constructor(private readonly dir: string, private readonly maxBytes: number) {}

  /** Whether the cached file `path` is there; if so, marks it as just used. */
  use(path: string, nowMs = Date.now()): boolean {
    const touched = this.touchedAt.get(path);
    if (touched !== undefined && nowMs - touched < RETOUCH_MS) return true;
    if (!existsSync(path)) return false;
    this.touch(path, nowMs);
    return true;
  }

  /** Marks `path` as just used. */
  touch(path: string, nowMs = Date.now()): void {
    const now = new Date(nowMs);
    try {
      utimesSync(path, now, now);
      this.touchedAt.set(path, nowMs);
    } catch {
      // gone meanwhile: the next use downloads it again
      this.touchedAt.delete(path);
    }
  }

  /** Removes least recently used files until the directory fits; returns how many went. */
  trim(nowMs = Date.now()): number {
    const files = readdirSync(this.dir)
      .filter((name) => !name.includes(".tmp"))
      .map((name) => {
        const stats = statSync(join(this.dir, name));
        return { path: join(this.dir, name), bytes: stats.size, usedMs: stats.mtimeMs };
      })
      .sort((a, b) => a.usedMs - b.usedMs);
    let total = files.reduce((sum, file) => sum + file.bytes, 0);
    let removed = 0;
    for (const file of files) {
      if (total <= this.maxBytes) break;
      if (nowMs - file.usedMs < IN_USE_MS) break; // the rest are newer still
      rmSync(file.path, { force: true });
      this.touchedAt.delete(file.path);
      total -= file.bytes;
      removed++;
    }
    return removed;
  }
}
