import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onLeader } from "@ballast/clients/scheduler";
import { call } from "@ballast/common/grpc";
import { NodeState } from "@ballast/gen/scheduler";
import { lastJson, spawnCli, startTestCluster } from "../support/cluster.js";
import { killNode, readTaskEvents, waitUntil } from "../support/faults.js";
import { keptIn, succeededIn } from "../support/cached.js";
import { prepareCorpus } from "../support/wordcount.js";
import { GATE_SOURCE } from "../support/gate.js";

// A node holding "disk" partitions of a persisted dataset is decommissioned
// between two actions, then killed: its cached partitions migrate with its
// shuffle data, and the next actions read every one of them, computing none.

const PARTITIONS = 6;
let work: string;
let corpus: string;
let expected: Map<string, number>;

const PROGRAM = `
import { app } from "ballast";
${GATE_SOURCE}
export default app("migrating", async (ctx) => {
  const words = ctx.textFile(ctx.arg("input"), { minPartitions: ${PARTITIONS} })
    .flatMap((line) => line.split(" ")).filter((w) => w.length > 0)
    .persist("disk");
  const first = await words.count();
  await gate(ctx.arg("gate"));
  const second = await words.count();
  const distinct = await words.distinct().count();
  return { first, second, distinct };
});
`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ballast-cache-decom-"));
  corpus = join(work, "corpus.txt");
  expected = prepareCorpus(corpus, 3 * 1024 * 1024, 23);
  writeFileSync(join(work, "migrating.ts"), PROGRAM);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));


describe("cached disk partitions on a decommissioned node", () => {
  it("migrate with its shuffle data: after the node is killed, later actions read them all and recompute none", async () => {
    const dir = mkdtempSync(join(work, "cluster-"));
    const eventsFile = join(dir, "task-events.jsonl");
    const cluster = await startTestCluster({ nodes: 3, slots: 1, dir, env: { BALLAST_TEST_TASK_EVENTS_FILE: eventsFile } });
    try {
      const gate = join(work, "gate");
      const submission = spawnCli(["submit", "--dir", cluster.dir, "--json", join(work, "migrating.ts"), "--", "--input", pathToFileURL(corpus).href, "--gate", gate]);
      await waitUntil("the first action to finish", () => existsSync(`${gate}.ready`), 180_000);

      const firstJob = [...new Set(readTaskEvents(eventsFile).map((e) => e.jobId))][0]!;
      const onNode1 = keptIn(readTaskEvents(eventsFile), firstJob, "node-1");
      expect(onNode1).toBeGreaterThan(0); // node-1 holds some of the dataset on disk
      await onLeader(cluster.scheduler.split(","), (c) => call(c.decommissionNode.bind(c), { nodeId: "node-1", deadlineMs: 60_000 }));
      await waitUntil("node-1 decommissioned", async () => {
        const { nodes } = await onLeader(cluster.scheduler.split(","), (c) => call(c.listNodes.bind(c), {}));
        return nodes.find((n) => n.nodeId === "node-1")?.state === NodeState.NODE_STATE_DECOMMISSIONED;
      }, 60_000);
      killNode(cluster, "node-1");
      writeFileSync(`${gate}.go`, "");

      const res = await submission.done;
      expect(res.code, res.stderr).toBe(0);
      const summary = lastJson(res.stdout);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      expect(summary.result).toEqual({ first: total, second: total, distinct: expected.size });
      const events = readTaskEvents(eventsFile);
      const [first, second, distinct] = summary.jobs;
      expect(first.jobId).toBe(firstJob);
      expect(keptIn(events, first.jobId)).toBe(PARTITIONS);
      for (const job of [second, distinct]) {
        expect(job.stats.cachedPartitionsRead).toBe(PARTITIONS);
        expect(keptIn(events, job.jobId)).toBe(0); // nothing recomputed
        expect(job.stats.inputBytes).toBe(0);
        expect(job.stats.recomputedTasks).toBe(0);
        expect(succeededIn(events, job.jobId).some((e) => e.nodeId === "node-1")).toBe(false);
      }
    } finally {
      await cluster.stop();
    }
  }, 400_000);
});
