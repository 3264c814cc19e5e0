import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCluster, restartService } from "@ballast/cli/cluster";
import { ExecutorServiceClient } from "@ballast/gen/executor";
import { call, createClient } from "@ballast/common/grpc";
import { lastJson, spawnCli, startTestCluster } from "../support/cluster.js";
import { killAndWait, readTaskEvents, service, waitUntil } from "../support/faults.js";
import { keptIn } from "../support/cached.js";
import { prepareCorpus } from "../support/wordcount.js";
import { GATE_SOURCE } from "../support/gate.js";

// The word counts (a shuffle's output) persisted on disk: a later action reads
// them whole and plans no stage that computes them. node-1's shuffle service
// then loses its data (restarted on an empty directory) and its executor
// restarts: the executor's registration reports what the service really
// holds, so the scheduler plans the upstream stages again and recomputes only
// node-1's partitions, instead of launching tasks that cannot read them.

const PARTITIONS = 4;
let work: string;
let corpus: string;
let expected: Map<string, number>;

const PROGRAM = `
import { app } from "ballast";
${GATE_SOURCE}
export default app("reconnecting", async (ctx) => {
  const counts = ctx.textFile(ctx.arg("input"), { minPartitions: ${PARTITIONS} })
    .flatMap((line) => line.split(" ")).filter((w) => w.length > 0)
    .map((w) => [w, 1] as const).reduceByKey((a, b) => a + b)
    .persist("disk");
  const first = await counts.count();
  await gate(ctx.arg("gate"));
  const second = await counts.count();
  return { first, second };
});
`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-cache-reconnect-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 2 * 1024 * 1024, 29);
  writeFileSync(join(work, "reconnecting.ts"), PROGRAM);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));


async function executorConnected(address: string): Promise<boolean> {
  const client = createClient(ExecutorServiceClient, address);
  try {
    return (await call(client.getExecutorStatus.bind(client), {})).connected;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

describe("a shuffle service that lost its cached partitions, reported by its executor's registration", () => {
  it("the next action recomputes only those partitions and succeeds", async () => {
    const dir = mkdtempSync(join(work, "cluster-"));
    const eventsFile = join(dir, "task-events.jsonl");
    const cluster = await startTestCluster({ nodes: 2, slots: 1, dir, env: { BALLAST_TEST_TASK_EVENTS_FILE: eventsFile } });
    try {
      const gate = join(work, "gate");
      const submission = spawnCli(["submit", "--dir", cluster.dir, "--json", join(work, "reconnecting.ts"), "--", "--input", pathToFileURL(corpus).href, "--gate", gate]);
      await waitUntil("the first action to finish", () => existsSync(`${gate}.ready`), 180_000);
      const firstJob = [...new Set(readTaskEvents(eventsFile).map((e) => e.jobId))][0]!;
      const lost = keptIn(readTaskEvents(eventsFile), firstJob, "node-1");
      expect(lost).toBeGreaterThan(0); // node-1's shuffle service holds some of the counts

      // node-1's shuffle service restarts without its data; its executor restarts and registers anew.
      const shuffle = service(cluster, "shuffle", "node-1");
      await killAndWait(service(cluster, "executor", "node-1").pid);
      await killAndWait(shuffle.pid);
      rmSync(shuffle.dataDir, { recursive: true, force: true });
      await restartService(cluster.dir, "shuffle", "node-1");
      await restartService(cluster.dir, "executor", "node-1");
      const executor = service(readCluster(cluster.dir), "executor", "node-1");
      await waitUntil("node-1's executor to register again", () => executorConnected(executor.address), 60_000);
      writeFileSync(`${gate}.go`, "");

      const res = await submission.done;
      expect(res.code, res.stderr).toBe(0);
      const summary = lastJson(res.stdout);
      expect(summary.result).toEqual({ first: expected.size, second: expected.size });
      const [first, second] = summary.jobs;
      const events = readTaskEvents(eventsFile);
      expect(keptIn(events, first.jobId)).toBe(PARTITIONS);
      // The counts node-2 still holds are read; node-1's lost ones, and only those, are computed and kept again.
      expect(second.stats.cachedPartitionsRead).toBe(PARTITIONS - lost);
      expect(keptIn(events, second.jobId)).toBe(lost);
    } finally {
      await cluster.stop();
    }
  }, 400_000);
});
