import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { bundleJob } from "./bundle.js";

const SDK_DIST = fileURLToPath(new URL("../../sdk/dist", import.meta.url));

/**
 * The SDK is an input of every bundle, and the test setup has just rebuilt it: a build within 2 s
 * of an input's change is not recorded (coarse file times), so wait until the SDK is older than that.
 */
beforeAll(async () => {
  const newest = Math.max(...readdirSync(SDK_DIST, { recursive: true, encoding: "utf8" }).map((file) => statSync(join(SDK_DIST, file)).mtimeMs));
  const waitMs = newest + 2_100 - Date.now();
  if (waitMs > 0) await sleep(waitMs);
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A job file importing a helper module, both written `ageMs` in the past (older than the build's slack). */
function jobWithHelper(partitions: number, ageMs = 60_000): { jobFile: string; helper: string } {
  const dir = mkdtempSync(join(tmpdir(), "bundle-test-"));
  dirs.push(dir);
  const helper = join(dir, "partitions.ts");
  const jobFile = join(dir, "job.ts");
  writeFileSync(helper, `export const PARTITIONS = ${partitions};\n`);
  writeFileSync(jobFile, `import { job } from "ballast";\nimport { PARTITIONS } from "./partitions.js";\nexport default job("bundle-test", (ctx) => ctx.range(10, PARTITIONS).count());\n`);
  age(helper, ageMs);
  age(jobFile, ageMs);
  return { jobFile, helper };
}

function age(path: string, ms: number): void {
  const when = new Date(Date.now() - ms);
  utimesSync(path, when, when);
}

const partitionsOf = (definition: Awaited<ReturnType<typeof bundleJob>>["definition"]) =>
  (definition as { buildPlan(o: object): { plan: { datasets: Array<{ numPartitions: number }> } } }).buildPlan({ args: [], inputSize: () => 0 }).plan.datasets[0]!.numPartitions;

describe("bundleJob", () => {
  it("reuses the bundle while no input changed, and builds again when an imported file did", async () => {
    const { jobFile, helper } = jobWithHelper(3);
    const first = await bundleJob(jobFile);
    const builtAt = statSync(first.path).mtimeMs;
    const second = await bundleJob(jobFile);
    expect(second.sha256).toBe(first.sha256);
    expect(statSync(second.path).mtimeMs).toBe(builtAt); // not written again: esbuild did not run

    writeFileSync(helper, "export const PARTITIONS = 5;\n"); // same size, other bytes
    age(helper, 30_000);
    const third = await bundleJob(jobFile);
    expect(third.sha256).not.toBe(first.sha256);
    expect(partitionsOf(third.definition)).toBe(5);
  });

  it("does not trust a build whose inputs changed just before it", async () => {
    const { jobFile, helper } = jobWithHelper(3, 0);
    const first = await bundleJob(jobFile);
    // Same size and, as on a coarse clock, the same time as when it was bundled: only a build that
    // did not record those inputs as settled sees the new value.
    const { atime, mtime } = statSync(helper);
    writeFileSync(helper, "export const PARTITIONS = 7;\n");
    utimesSync(helper, atime, mtime);
    const second = await bundleJob(jobFile);
    expect(second.sha256).not.toBe(first.sha256);
    expect(partitionsOf(second.definition)).toBe(7);
  });
});
