import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Packr } from "msgpackr";
import { createLogger } from "@ballast/common/logging";
import { bundleJob, MODE_JOB, planOf, type BundledJob } from "../testing/jobs.js";
import type { WorkerJobContext, WorkerTaskRequest } from "./protocol.js";
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

  async function jobContext(mode: string, extra: string[] = []): Promise<{ context: WorkerJobContext; datasetId: number }> {
    const args = ["--mode", mode, ...extra];
    const plan = await planOf(job, args);
    return { context: { bundlePath: job.bundlePath, bundleDigest: job.sha256, args, inputs: plan.inputs, graphHash: plan.graphHash }, datasetId: plan.finalDatasetId };
  }

  function requestOf(taskId: string, { context, datasetId }: { context: WorkerJobContext; datasetId: number }, partition = 0): WorkerTaskRequest {
    return { type: "run", taskId, job: context, localPaths: {}, task: { datasetId, partition }, blocks: {}, spill: { memoryLimit: 1 << 20, dir } };
  }

  async function request(taskId: string, mode: string, partition = 0, extra: string[] = []): Promise<WorkerTaskRequest> {
    return requestOf(taskId, await jobContext(mode, extra), partition);
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
    const response = await pool.run({ ...base, job: { ...base.job, graphHash: "0".repeat(64) } });
    if (response.type !== "failed") throw new Error("expected a failure");
    expect(response.errorKind).toBe("nondeterministic_graph");
    expect(response.message).toMatch(/^job graph is not deterministic: /);
  });

  it("replaces a worker that crashes and keeps running tasks", async () => {
    await expect(pool.run(await request("crash-1", "crash"))).rejects.toBeInstanceOf(WorkerCrashedError);
    const response = await pool.run(await request("ok-2", "ok"));
    expect(response.type).toBe("done");
  });

  it("gives a worker each job's context again after another job's task, and a replacement worker its own copy", async () => {
    const single = new WorkerPool(1, createLogger("executor-test"));
    try {
      const ok = await jobContext("ok");
      const collected = async (taskId: string, partition: number) => {
        const response = await single.run(requestOf(taskId, ok, partition));
        if (response.type !== "done" || response.output.kind !== "collect") throw new Error(`expected collect output, got ${JSON.stringify(response)}`);
        return unpack(response.output.records);
      };
      expect(await collected("same-1", 1)).toEqual([10, 12, 14, 16, 18]);
      expect(await collected("same-2", 0)).toEqual([0, 2, 4, 6, 8]);
      expect((await single.run(await request("other-1", "throw"))).type).toBe("failed");
      expect(await collected("same-3", 1)).toEqual([10, 12, 14, 16, 18]);
      await expect(single.run(await request("crash-2", "crash"))).rejects.toBeInstanceOf(WorkerCrashedError);
      expect(await collected("same-4", 1)).toEqual([10, 12, 14, 16, 18]);
    } finally {
      await single.close();
    }
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
