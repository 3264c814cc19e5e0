import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DockerComposeEnvironment, getContainerRuntimeClient, Wait, type StartedDockerComposeEnvironment } from "testcontainers";
import { REPO } from "./support/cluster.js";
import { parseCounts, prepareCorpus } from "./support/wordcount.js";

// deploy/docker-compose.yml for real, through testcontainers: the image is built, the whole
// cluster comes up healthy (PostgreSQL, two schedulers, history, staging, two nodes, Jaeger), and
// a word count submitted from inside the cluster network reads file:///inputs (the shared volume)
// and writes its exact counts there. Needs a Docker engine; without one it skips saying why.

const noDocker = await getContainerRuntimeClient().then(
  () => undefined,
  (err: Error) => `no Docker engine reachable (${err.message.split("\n")[0]})`,
);
if (noDocker) console.warn(`compose deploy test SKIPPED: ${noDocker}`);

const BUILD_AND_RUN_MS = 20 * 60_000;

describe.skipIf(!!noDocker)(`docker-compose deploy, brought up by testcontainers${noDocker ? ` (skipped: ${noDocker})` : ""}`, { timeout: BUILD_AND_RUN_MS }, () => {
  let environment: StartedDockerComposeEnvironment | undefined;
  const work = mkdtempSync(join(tmpdir(), "ballast-compose-"));
  afterAll(async () => {
    await environment?.down({ removeVolumes: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("runs a word count through the compose cluster: exact counts", async () => {
    const compose = new DockerComposeEnvironment(join(REPO, "deploy"), "docker-compose.yml").withBuild();
    for (const name of ["scheduler-1", "scheduler-2", "history", "staging", "executor-1", "executor-2"]) compose.withWaitStrategy(`${name}-1`, Wait.forHealthCheck());
    environment = await compose.up();
    const corpus = join(work, "words.txt");
    const expected = prepareCorpus(corpus, 2 * 1024 * 1024, 11);
    const client = environment.getContainer("executor-1-1");
    await client.copyContentToContainer([{ content: readFileSync(corpus), target: "/inputs/words.txt" }]);
    const submit = await client.exec([
      "node", "packages/cli/bin/ballast.mjs", "submit", "--master", "scheduler-1:7077,scheduler-2:7077", "--staging", "staging:10000", "--json",
      "examples/wordcount.ts", "--", "--input", "file:///inputs/words.txt", "--output", "file:///inputs/wc",
    ]);
    expect(submit.exitCode, submit.output).toBe(0);
    // Both nodes wrote parts; the other node's executor sees them on the same volume.
    const parts = await environment.getContainer("executor-2-1").exec(["sh", "-c", "cat /inputs/wc/part-*"]);
    expect(parts.exitCode, parts.output).toBe(0);
    expect(parseCounts(parts.stdout)).toEqual(expected);
  });
});
