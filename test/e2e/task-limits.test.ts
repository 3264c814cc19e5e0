import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCluster, restartService } from "@ballast/cli/cluster";
import { lastJson, runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 2 });
});

afterAll(async () => {
  await cluster?.stop();
});

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Restarts dead executors (as a node's supervisor would) until `done` resolves; returns how many restarts. */
async function superviseExecutors(done: Promise<unknown>): Promise<number> {
  let finished = false;
  void done.finally(() => (finished = true));
  let restarts = 0;
  while (!finished) {
    for (const service of readCluster(cluster.dir).services) {
      if (service.name !== "executor" || isAlive(service.pid)) continue;
      // The poison task may land on the restarted executor and kill it before its start-up check
      // passes: that is a restart too, and the next round restarts it again.
      await restartService(cluster.dir, "executor", service.nodeId).catch((err: unknown) => {
        if (!/exited with code -?\d+ during start-up/.test(String(err))) throw err;
      });
      restarts++;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return restarts;
}

describe("bounded task failures on a real cluster", () => {
  it("fails a job whose task keeps killing its executor after ballast.task.maxFailures losses, with a clear reason", async () => {
    const submit = runCli(["submit", "--dir", cluster.dir, "--json", "--conf", "ballast.task.maxFailures=3", "test/fixtures/kills-executor.ts"], 180_000);
    const restarts = await superviseExecutors(submit);
    const res = await submit;
    expect(res.code).not.toBe(0);
    const summary = lastJson(res.stdout);
    expect(summary.status).toBe("failed");
    expect(summary.error.message).toMatch(/^Task 0 of stage 0 was running on 3 executors that were lost \(ballast\.task\.maxFailures = 3\); the task may be what kills them/);
    expect(restarts).toBeGreaterThanOrEqual(2);
  }, 200_000);

  it("kills a hung task after ballast.task.timeout, retries it, then fails the job with the reason", async () => {
    const started = Date.now();
    const conf = ["--conf", "ballast.task.timeout=1500ms", "--conf", "ballast.task.maxFailures=3"];
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", ...conf, "test/fixtures/slow.ts", "--", "--tasks", "1", "--ms", "120000"]);
    const summary = lastJson(res.stdout);
    expect(summary.status).toBe("failed");
    expect(summary.error.message).toMatch(/failed 3 times; most recent failure: task \S+ ran longer than ballast\.task\.timeout \(1500ms\)/);
    expect(summary.stats.taskAttemptsFailed).toBe(3);
    expect(Date.now() - started).toBeLessThan(60_000); // not the 120 s the task would hang
  }, 120_000);
});
