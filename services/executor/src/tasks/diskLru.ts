import { readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

/** A file used this recently may be about to be opened by a task: never evicted. */
const IN_USE_MS = 60_000;

/**
 * Bounds a directory of cached files (downloaded bundles, staged inputs) to
 * `maxBytes`, least recently used first: every use touches the file's mtime,
 * and after each new file the oldest are removed until the directory fits.
 * Files used in the last minute stay even over the bound (a task may be about
 * to read them); an open file survives removal on POSIX anyway.
 */
export class DiskLru {
  constructor(private readonly dir: string, private readonly maxBytes: number) {}

  /** Marks `path` as just used. */
  touch(path: string): void {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // gone meanwhile: the next use downloads it again
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
      total -= file.bytes;
      removed++;
    }
    return removed;
  }
}
