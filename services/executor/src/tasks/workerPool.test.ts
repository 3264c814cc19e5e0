import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Packr } from "msgpackr";
import { createLogger } from "@ballast/common/logging";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "../testing/jobs.js";
import type { WorkerTaskRequest } from "./protocol.js";
import { TaskKilledError, WorkerCrashedError, WorkerPool } from "./workerPool.js";

const unpack = (bytes: Uint8Array) => new Packr({ useRecords: false }).unpack(bytes);

describe("WorkerPool", () => {
  let dir: string;
  let job: BundledJob;
  let pool: WorkerPool;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-executor-pool-"));
    job = await bundleJob(dir, "modes", MODE_JOB);
    pool = new WorkerPool(2, createLogger("executor-test"));
  });
  afterAll(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function request(taskId: string, mode: string, partition = 0, extra: string[] = []): Promise<WorkerTaskRequest> {
    const args = ["--mode", mode, ...extra];
    const plan = await planOf(job, args);
    return { type: "run", taskId, bundlePath: job.bundlePath, bundleDigest: job.sha256, args, inputs: plan.inputs, graphHash: plan.graphHash, localPaths: {}, task: { datasetId: plan.finalDatasetId, partition }, blocks: {}, spill: { memoryLimit: 1 << 20, dir } };
  }

  it("runs a partition of the bundled job", async () => {
    const response = await pool.run(await request("ok-1", "ok", 1));
    expect(response.type).toBe("done");
    if (response.type !== "done" || response.output.kind !== "collect") throw new Error("expected collect output");
    expect(unpack(response.output.records)).toEqual([10, 12, 14, 16, 18]);
    expect(response.output.recordsOut).toBe(5);
  });

  it("reports a user exception with a stack frame in the user's .ts file and none of the executor's", async () => {
    const response = await pool.run(await request("throw-1", "throw"));
    if (response.type !== "failed") throw new Error("expected a failure");
    expect(response.errorKind).toBe("user_error");
    expect(response.message).toBe("boom at three");
    expect(response.stack).toMatch(/modes\.ts:4:\d+/);
    expect(response.stack).not.toContain("services/executor");
    expect(response.stack).not.toContain("node:internal");
  });

  it("fails a task whose rebuilt graph differs from the submitted plan", async () => {
    const base = await request("hash-1", "ok");
    const response = await pool.run({ ...base, graphHash: "0".repeat(64) });
    if (response.type !== "failed") throw new Error("expected a failure");
    expect(response.errorKind).toBe("nondeterministic_graph");
    expect(response.message).toMatch(/^job graph is not deterministic: /);
  });

  it("replaces a worker that crashes and keeps running tasks", async () => {
    await expect(pool.run(await request("crash-1", "crash"))).rejects.toBeInstanceOf(WorkerCrashedError);
    const response = await pool.run(await request("ok-2", "ok"));
    expect(response.type).toBe("done");
  });

  it("caps each worker's heap: a task past it fails alone as a crash, and the next task runs", async () => {
    const capped = new WorkerPool(1, createLogger("executor-test"), undefined, 64 * 1024 * 1024);
    try {
      await expect(capped.run(await request("hog-1", "hog"))).rejects.toThrow(/memory limit/);
      expect((await capped.run(await request("ok-4", "ok"))).type).toBe("done");
    } finally {
      await capped.close();
    }
  });

  it("kills a busy task on request and frees its slot", async () => {
    const spinning = pool.run(await request("spin-1", "spin", 0, ["--spinMs", "60000"]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pool.runningTaskIds).toContain("spin-1");
    expect(pool.kill("spin-1", "no longer needed")).toBe(true);
    await expect(spinning).rejects.toBeInstanceOf(TaskKilledError);
    expect(pool.runningTaskIds).not.toContain("spin-1");
    expect((await pool.run(await request("ok-3", "ok"))).type).toBe("done");
  });
});
