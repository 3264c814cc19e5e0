import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { attemptPartPath } from "@ballast/common/jobOutput";
import { createLogger } from "@ballast/common/logging";
import { TaskFailure } from "../core/task.js";
import { commitTextPartition, type CommitDeps } from "./commit.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function outputDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "commit-"));
  dirs.push(dir);
  return dir;
}

const TASK = "job-0001.1.0.2.0";
const DATA = new TextEncoder().encode("the\t3\n");

/** The scheduler's answer (the staging side is not used by file:// outputs). */
function depsAnswering(authorize: (taskId: string) => Promise<boolean>): CommitDeps {
  const unusedStaging = {
    uploadBytes: () => Promise.reject(new Error("a file:// commit does not use staging")),
    link: () => Promise.reject(new Error("a file:// commit does not use staging")),
  };
  return { staging: unusedStaging, authorizeCommit: authorize, logger: createLogger("commit-test") };
}

const commit = (dir: string, deps: CommitDeps) => commitTextPartition({ outputUri: pathToFileURL(dir).href, taskId: TASK, partition: 2, data: DATA }, deps);

describe("task commit to a file:// output", () => {
  it("asks the scheduler while the part is still being written, and an authorized attempt leaves its part", async () => {
    const dir = outputDir();
    const partExistedWhenAsked: boolean[] = [];
    await commit(dir, depsAnswering(async () => {
      partExistedWhenAsked.push(existsSync(attemptPartPath(dir, TASK, 2)));
      return true;
    }));
    expect(partExistedWhenAsked).toEqual([false]);
    expect(readFileSync(attemptPartPath(dir, TASK, 2), "utf8")).toBe("the\t3\n");
  });

  it("a denied attempt fails with commitDenied and leaves nothing, even when the answer comes before the write ends", async () => {
    const dir = outputDir();
    const error = await commit(dir, depsAnswering(async () => false)).catch((err) => err);
    expect(error).toBeInstanceOf(TaskFailure);
    expect((error as TaskFailure).info.kind).toBe("commitDenied");
    expect(existsSync(join(dir, "_temporary"))).toBe(false);
  });

  it("an authorized attempt whose write fails fails with the write's error and leaves nothing", async () => {
    const dir = outputDir();
    mkdirSync(join(dir, "_temporary"));
    writeFileSync(join(dir, "_temporary", TASK), "in the way"); // the attempt's dir cannot be created (whatever the user's rights)
    const error = await commit(dir, depsAnswering(async () => true)).catch((err) => err);
    expect(String(error)).toMatch(/EEXIST|ENOTDIR/);
    expect(existsSync(attemptPartPath(dir, TASK, 2))).toBe(false);
  });
});
