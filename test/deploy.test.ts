import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO } from "./support/cluster.js";

const hasCompose = spawnSync("docker-compose", ["--version"]).status === 0;

describe("deploy", () => {
  // No Docker engine here: `docker-compose config` validates the file without one.
  it.skipIf(!hasCompose)("has a valid compose file (skipped when docker-compose is not installed)", () => {
    const out = execFileSync("docker-compose", ["-f", "deploy/docker-compose.yml", "config", "--services"], { cwd: REPO, encoding: "utf8" });
    expect(out.split("\n").filter(Boolean).sort()).toEqual(["executor-1", "executor-2", "history", "jaeger", "scheduler", "shuffle-1", "shuffle-2", "staging"]);
  });
});
