import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { abortJobDirectory, attemptPartPath, commitJobDirectory, discardAttempt } from "./jobOutput.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-joboutput-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeAttempt(taskId: string, partition: number, text: string): void {
  const path = attemptPartPath(dir, taskId, partition);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

describe("job output directory", () => {
  it("promotes the named attempts' parts, ignores other attempts, writes _SUCCESS and removes _temporary", () => {
    writeAttempt("t0", 0, "zero");
    writeAttempt("t1-old", 1, "stale");
    writeAttempt("t1", 1, "one");
    commitJobDirectory(dir, ["t0", "t1"]);
    expect(readdirSync(dir).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001"]);
    expect(readFileSync(join(dir, "part-00001"), "utf8")).toBe("one");
  });

  it("is idempotent: a second commit (after a failover) keeps the promoted parts", () => {
    writeAttempt("t0", 0, "zero");
    commitJobDirectory(dir, ["t0"]);
    commitJobDirectory(dir, ["t0"]);
    expect(readdirSync(dir).sort()).toEqual(["_SUCCESS", "part-00000"]);
  });

  it("takes back what it promoted and throws when a part is missing", () => {
    writeAttempt("t0", 0, "zero");
    expect(() => commitJobDirectory(dir, ["t0", "t1"])).toThrow(/partition 1 \(attempt t1\) is missing/);
    expect(existsSync(join(dir, "part-00000"))).toBe(false);
    expect(existsSync(join(dir, "_SUCCESS"))).toBe(false);
  });

  it("abort removes every attempt; a discarded attempt takes an empty _temporary with it", () => {
    writeAttempt("t0", 0, "zero");
    writeAttempt("t1", 1, "one");
    discardAttempt(dir, "t1");
    expect(readdirSync(join(dir, "_temporary"))).toEqual(["t0"]);
    discardAttempt(dir, "t0");
    expect(existsSync(join(dir, "_temporary"))).toBe(false);
    writeAttempt("t2", 0, "two");
    abortJobDirectory(dir);
    expect(readdirSync(dir)).toEqual([]);
  });
});
