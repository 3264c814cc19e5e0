import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DiskLru } from "./diskLru.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-lru-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A 100-byte cached file last used `agoMs` before `now`. */
function cached(name: string, now: number, agoMs: number): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(100));
  const at = new Date(now - agoMs);
  utimesSync(path, at, at);
  return path;
}

describe("DiskLru", () => {
  it("removes the least recently used files until the directory fits", () => {
    const now = Date.now();
    cached("a", now, 300_000);
    cached("b", now, 200_000);
    cached("c", now, 100_000);
    expect(new DiskLru(dir, 200).trim(now)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(["b", "c"]);
  });

  it("counts a touch as a use, and never removes a file used in the last minute", () => {
    const now = Date.now();
    const a = cached("a", now, 300_000);
    cached("b", now, 200_000);
    cached("c", now, 10_000);
    const lru = new DiskLru(dir, 100);
    lru.touch(a);
    expect(lru.trim()).toBe(1); // b goes; a was just used and c is too recent
    expect(readdirSync(dir).sort()).toEqual(["a", "c"]);
    expect(existsSync(a)).toBe(true);
  });

  it("checks a file it vouched for again only after a while, and forgets what trim removed", () => {
    const now = Date.now();
    const lru = new DiskLru(dir, 0);
    const a = join(dir, "a");
    expect(lru.use(a, now)).toBe(false); // not there yet: the caller downloads it
    writeFileSync(a, Buffer.alloc(100));
    expect(lru.use(a, now)).toBe(true);
    rmSync(a);
    expect(lru.use(a, now + 1_000)).toBe(true); // touched a second ago: trusted without a look
    expect(lru.use(a, now + 20_000)).toBe(false); // stale: looked at again
    const b = cached("b", now, 300_000);
    expect(lru.use(b, now - 300_000)).toBe(true);
    expect(lru.trim(now)).toBe(1);
    expect(lru.use(b, now - 299_000)).toBe(false); // trim removed it: no longer vouched for
  });

  it("leaves downloads in progress alone", () => {
    const now = Date.now();
    cached("x.tmp-1", now, 300_000);
    cached("y", now, 300_000);
    expect(new DiskLru(dir, 0).trim(now)).toBe(1);
    expect(readdirSync(dir)).toEqual(["x.tmp-1"]);
  });
});
