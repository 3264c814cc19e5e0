import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { leaderOf } from "../support/failover.js";
import { killAndWait, waitUntil } from "../support/faults.js";
import { GATE_SOURCE } from "../support/gate.js";

let cluster: TestCluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-detach-failover-"));
  cluster = await startTestCluster({ nodes: 2, schedulers: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("submit --detach across a scheduler failover", () => {
  it("the driver keeps running through the failover (one attempt, not placed again) and the application finishes with the right result", async () => {
    const program = join(work, "sums.ts");
    writeFileSync(program, `import { app } from "ballast";
${GATE_SOURCE}
export default app("sums", async (ctx) => {
  const evens = await ctx.range(3000, 3).filter((n) => n % 2 === 0).count();
  await gate(ctx.arg("gate"));
  const sum = await ctx.range(100, 2).map((n) => [n % 2, n] as const).reduceByKey((a, b) => a + b, { partitions: 2 }).collect();
  return { evens, sum: sum.sort((a, b) => a[0] - b[0]) };
});
`);
    const gate = join(work, "gate");
    const submitted = await runCli(["submit", "--detach", "--json", "--dir", cluster.dir, program, "--", "--gate", gate]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { applicationId } = lastJson(submitted.stdout);
    await waitUntil("the detached driver to finish its first action", () => existsSync(`${gate}.ready`), 120_000);
    await killAndWait(leaderOf(cluster).pid);
    writeFileSync(`${gate}.go`, "");

    const attached = await runCli(["attach", applicationId, "--dir", cluster.dir, "--json"]);
    expect(attached.code, attached.stderr).toBe(0);
    expect(lastJson(attached.stdout).result).toEqual({ evens: 1500, sum: [[0, 2450], [1, 2500]] });
    const executors = cluster.services.filter((s) => s.name === "executor");
    expect(executors.filter((s) => existsSync(join(s.dataDir, "drivers", `${applicationId}.1.log`)))).toHaveLength(1);
    expect(executors.some((s) => existsSync(join(s.dataDir, "drivers", `${applicationId}.2.log`)))).toBe(false);
  });
});
