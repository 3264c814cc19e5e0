import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isAlive, stopCluster, type ClusterDescription } from "@ballast/cli/cluster";
import { lastJson, runCli } from "../support/cluster.js";

const dir = mkdtempSync(join(tmpdir(), "ballast-up-"));
const readClusterJson = (): ClusterDescription => JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8"));

afterAll(async () => {
  await stopCluster(dir, 2000);
  rmSync(dir, { recursive: true, force: true });
});

describe("ballast up / start / down", () => {
  it("starts a cluster and describes every service in cluster.json", async () => {
    const up = await runCli(["up", "--nodes", "2", "--dir", dir, "--ports", "auto"]);
    expect(up.code, up.stderr).toBe(0);
    const cluster = readClusterJson();
    const names = cluster.services.map((s) => `${s.name}${s.nodeId ? `@${s.nodeId}` : ""}`).sort();
    expect(names).toEqual(["executor@node-1", "executor@node-2", "history", "scheduler", "shuffle@node-1", "shuffle@node-2", "staging"]);
    for (const s of cluster.services) {
      expect(isAlive(s.pid)).toBe(true);
      expect(s.address).toMatch(/^127\.0\.0\.\d+:\d+$/);
      expect(s.dataDir.startsWith(dir)).toBe(true);
    }
    expect(cluster.services.find((s) => s.name === "shuffle" && s.nodeId === "node-2")!.address).toMatch(/^127\.0\.0\.3:/);
  });

  it("refuses a second `up` in the same directory", async () => {
    const again = await runCli(["up", "--dir", dir, "--ports", "auto"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already running/);
  });

  it("restarts killed services with `start`, on their old addresses, and runs the next job", async () => {
    const before = readClusterJson();
    const staging = before.services.find((s) => s.name === "staging")!;
    const shuffle = before.services.find((s) => s.name === "shuffle" && s.nodeId === "node-1")!;
    process.kill(staging.pid, "SIGKILL");
    process.kill(shuffle.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    const restarted = await runCli(["start", "staging", "--dir", dir]);
    expect(restarted.code, restarted.stderr).toBe(0);
    // Several shuffle services exist; without --node the one that is down is meant.
    expect((await runCli(["start", "shuffle", "--dir", dir])).code).toBe(0);
    expect(readClusterJson().services.find((s) => s.name === "shuffle" && s.nodeId === "node-1")!.pid).not.toBe(shuffle.pid);
    const ambiguous = await runCli(["start", "executor", "--dir", dir]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/say which with --node/);
    const after = readClusterJson();
    expect(after.services.find((s) => s.name === "staging")!.address).toBe(staging.address);
    expect(after.services.find((s) => s.name === "staging")!.pid).not.toBe(staging.pid);
    const job = await runCli(["submit", "--dir", dir, "--json", "test/fixtures/collect-count.ts", "--", "--mode", "count"]);
    expect(job.code, job.stderr).toBe(0);
    expect(lastJson(job.stdout).result).toBe(3334);
  });

  it("stops every process with `down`", async () => {
    const down = await runCli(["down", "--dir", dir]);
    expect(down.code).toBe(0);
    for (const s of readClusterJson().services) expect(isAlive(s.pid)).toBe(false);
  });
});
