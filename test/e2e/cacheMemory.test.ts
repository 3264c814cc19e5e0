import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutorServiceClient, type GetExecutorStatusResponse } from "@ballast/gen/executor";
import { call, createClient } from "@ballast/common/grpc";
import { lastJson, spawnCli, startTestCluster, type TestCluster } from "../support/cluster.js";
import { jobHistory, waitUntil } from "../support/faults.js";
import { GATE_SOURCE } from "../support/gate.js";

// Memory copies of a persisted dataset on a real cluster, under a cache budget
// that holds one of its partitions per executor: the executors evict the
// least recently used ones (and say so), and unpersist() frees what is left.

const PARTITIONS = 8;
const NUMBERS = 800_000;
/** One partition of 100,000 numbers packs to about 0.5 MB: one fits, two do not. */
const BUDGET = 700_000;

const PROGRAM = `
import { app } from "ballast";
${GATE_SOURCE}
export default app("evicting", async (ctx) => {
  const numbers = ctx.range(${NUMBERS}, ${PARTITIONS}).map((n) => n * 2).persist("memory");
  const first = await numbers.reduce((a, b) => a + b);
  await gate(ctx.arg("gate") + "-kept");
  const second = await numbers.reduce((a, b) => a + b);
  numbers.unpersist();
  const other = await ctx.range(10, 2).count();
  await gate(ctx.arg("gate") + "-freed");
  return { first, second, other };
});
`;

let work: string;
let cluster: TestCluster;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-cache-memory-"));
  writeFileSync(join(work, "evicting.ts"), PROGRAM);
  cluster = await startTestCluster({ nodes: 2, slots: 2, dir: mkdtempSync(join(work, "cluster-")), env: { BALLAST_EXECUTOR_CACHEMEMORY: String(BUDGET) } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function executorStatuses(): Promise<GetExecutorStatusResponse[]> {
  return Promise.all(
    cluster.services
      .filter((service) => service.name === "executor")
      .map(async (service) => {
        const client = createClient(ExecutorServiceClient, service.address);
        try {
          return await call(client.getExecutorStatus.bind(client), {});
        } finally {
          client.close();
        }
      }),
  );
}

const executorLogs = () => cluster.services.filter((service) => service.name === "executor").map((service) => readFileSync(service.log, "utf8")).join("\n");

describe("memory copies of cached partitions under the executors' cache budget", () => {
  it("are evicted least recently used first, reported, and freed by unpersist()", async () => {
    const gatePath = join(work, "gate");
    const submission = spawnCli(["submit", "--dir", cluster.dir, "--json", join(work, "evicting.ts"), "--", "--gate", gatePath]);

    await waitUntil("the first action to finish", () => existsSync(`${gatePath}-kept.ready`), 180_000);
    const kept = await executorStatuses();
    // Each executor computed about half of the 8 partitions and holds only what fits: one.
    for (const status of kept) {
      expect(status.cachedPartitionsInMemory).toBe(1);
      expect(status.cachedBytesInMemory).toBeGreaterThan(BUDGET / 2);
      expect(status.cachedBytesInMemory).toBeLessThanOrEqual(BUDGET);
    }
    expect(executorLogs()).toContain("evicted cached partitions from memory");
    writeFileSync(`${gatePath}-kept.go`, "");

    await waitUntil("the unpersisted dataset's copies to be freed", () => existsSync(`${gatePath}-freed.ready`), 180_000);
    await waitUntil("the executors to free every memory copy", async () => (await executorStatuses()).every((status) => status.cachedPartitionsInMemory === 0 && status.cachedBytesInMemory === 0), 30_000);
    expect(executorLogs()).toContain("unpersisted: freed cached partitions from memory");
    writeFileSync(`${gatePath}-freed.go`, "");

    const res = await submission.done;
    expect(res.code, res.stderr).toBe(0);
    const summary = lastJson(res.stdout);
    const sum = NUMBERS * (NUMBERS - 1); // 2 * (0 + 1 + ... + NUMBERS-1)
    expect(summary.result).toEqual({ first: sum, second: sum, other: 10 });
    // The second action reads at most the two partitions still held; the evicted ones are computed again.
    const second = summary.jobs[1].stats;
    expect(second.cachedPartitionsRead).toBeLessThanOrEqual(2);
    expect(second.tasksLaunched).toBe(PARTITIONS);

    // History shows where the first action left the dataset: the one partition each executor kept, of 8.
    const firstJob = summary.jobs[0].jobId;
    const cached = (await jobHistory(cluster, firstJob)).find((event) => event.type === "cachedDatasets");
    expect(cached).toMatchObject({ applicationId: summary.applicationId, datasets: [{ level: "memory", numPartitions: PARTITIONS, partitionsHeld: 2 }] });
    const holders = cached!.datasets[0].holders as Array<{ kind: string; partitions: number; bytes: number }>;
    expect(holders.map((holder) => [holder.kind, holder.partitions])).toEqual([["memory", 1], ["memory", 1]]);
    expect(holders.every((holder) => holder.bytes > 0 && holder.bytes <= BUDGET)).toBe(true);
  }, 400_000);
});
