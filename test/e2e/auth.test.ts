import { credentials, Metadata, status, type Client } from "@grpc/grpc-js";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken, readSecretFile, type Identity } from "@ballast/common/auth";
import { builtEntry } from "@ballast/common/entry";
import { isServing } from "@ballast/common/grpc";
import { ExecutorServiceClient } from "@ballast/gen/executor";
import { HistoryServiceClient } from "@ballast/gen/history";
import { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { ShuffleServiceClient } from "@ballast/gen/shuffle";
import { StagingServiceClient } from "@ballast/gen/staging";
import { freePort } from "@ballast/cli/cluster";
import { REPO, startTestCluster, type TestCluster } from "../support/cluster.js";
import { readCountsDir } from "../support/wordcount.js";

/**
 * Authentication on a real cluster: each service refuses a call without a token (UNAUTHENTICATED),
 * a forged one (UNAUTHENTICATED) and a token without the right (PERMISSION_DENIED), and answers the
 * right one; health and reflection stay open. Raw generated clients, so nothing adds a token.
 */
const exec = promisify(execFile);
let cluster: TestCluster;
let secret: Buffer;
const clients: Client[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 1 });
  secret = readSecretFile(cluster.secretFile);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

const token = (identity: Identity) => mintToken(secret, identity);
const USER: Identity = { role: "user", user: "alice" };
const JOB: Identity = { role: "job", user: "alice", jobId: "job-0001", grants: { read: [], names: [], write: "" } };

type Method = (request: object, metadata: Metadata, options: object, callback: (err: { code: number } | null) => void) => unknown;

/** The status of one unary call with `bearer` (none: no authorization header at all). */
function codeOf(client: Client, method: string, request: object, bearer?: string): Promise<number> {
  const metadata = new Metadata();
  if (bearer !== undefined) metadata.set("authorization", `Bearer ${bearer}`);
  return new Promise((resolve) => {
    (client as unknown as Record<string, Method>)[method]!.call(client, request, metadata, { deadline: Date.now() + 10_000 }, (err) => resolve(err ? err.code : status.OK));
  });
}

function raw<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C, address: string): C {
  const client = new Ctor(address, credentials.createInsecure());
  clients.push(client);
  return client;
}

interface Case {
  service: string;
  client: () => Client;
  /** A call a user token may make, and the answer it then gets. */
  open: { method: string; request: object; as: Identity };
  /** A call the `denied` identity may not make. */
  internal?: { method: string; request: object; denied: Identity };
}

const address = (name: string) => cluster.services.find((s) => s.name === name)!.address;
const cases: Case[] = [
  {
    service: "scheduler",
    client: () => raw(SchedulerServiceClient, cluster.scheduler),
    open: { method: "listJobs", request: { pageSize: 0, pageToken: "", applicationId: "" }, as: USER },
    internal: { method: "decommissionNode", request: { nodeId: "node-1", deadlineMs: 1000 }, denied: USER },
  },
  {
    service: "executor",
    client: () => raw(ExecutorServiceClient, address("executor")),
    open: { method: "getExecutorStatus", request: {}, as: USER },
    internal: { method: "getExecutorStatus", request: {}, denied: JOB },
  },
  {
    service: "shuffle",
    client: () => raw(ShuffleServiceClient, address("shuffle")),
    open: { method: "listMapOutputs", request: { shuffleId: "s" }, as: { role: "cluster" } },
    internal: { method: "removeShuffle", request: { shuffleId: "s", schedulerEpoch: 0 }, denied: USER },
  },
  {
    service: "staging",
    client: () => raw(StagingServiceClient, cluster.staging),
    // Every role has a namespace in staging; what crosses namespaces is refused there (staging tests).
    open: { method: "list", request: { prefix: "" }, as: USER },
  },
  {
    service: "history",
    client: () => raw(HistoryServiceClient, cluster.history),
    open: { method: "listApplications", request: {}, as: USER },
    internal: { method: "publishEvents", request: { applicationId: "app", events: [] }, denied: USER },
  },
];

describe.each(cases)("the $service service", (c) => {
  it("refuses a call without a token or with a forged one (UNAUTHENTICATED)", async () => {
    const client = c.client();
    expect(await codeOf(client, c.open.method, c.open.request)).toBe(status.UNAUTHENTICATED);
    expect(await codeOf(client, c.open.method, c.open.request, "not-a-token")).toBe(status.UNAUTHENTICATED);
    const otherCluster = mintToken(Buffer.alloc(32, 7), c.open.as);
    expect(await codeOf(client, c.open.method, c.open.request, otherCluster)).toBe(status.UNAUTHENTICATED);
  });

  it("answers the right token, and refuses one that lacks the right (PERMISSION_DENIED)", async () => {
    const client = c.client();
    expect(await codeOf(client, c.open.method, c.open.request, token(c.open.as))).toBe(status.OK);
    if (!c.internal) return;
    expect(await codeOf(client, c.internal.method, c.internal.request, token(c.internal.denied))).toBe(status.PERMISSION_DENIED);
  });
});

describe("open endpoints", () => {
  it("health checks and reflection answer without a token on every service", async () => {
    for (const service of cluster.services) {
      expect(await isServing(service.address), `${service.name} health`).toBe(true);
      const { stdout } = await exec(`${REPO}/node_modules/.bin/buf`, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", `http://${service.address}`], { cwd: REPO });
      expect(stdout).toContain("grpc.health.v1.Health");
    }
  });
});

describe("the secret and the CLI", () => {
  it("ballast up wrote the secret readable by its owner only", () => {
    expect(statSync(cluster.secretFile).mode & 0o777).toBe(0o600);
  });

  const withoutSecret = () => {
    const env = { ...process.env };
    delete env.BALLAST_SECRET_FILE;
    delete env.BALLAST_TOKEN;
    return env;
  };

  /** The real `ballast` command with exactly this environment for its credentials. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    exec(process.execPath, [builtEntry("@ballast/cli", "./bin"), ...args], { cwd: REPO, env: { ...withoutSecret(), ...env } }).then(
      () => ({ code: 0, stderr: "" }),
      (err) => ({ code: err.code as number, stderr: String(err.stderr) }),
    );

  it("the CLI finds the secret through --dir, BALLAST_SECRET_FILE or BALLAST_TOKEN, and is refused without", async () => {
    expect(await cli(["jobs", "--dir", cluster.dir])).toEqual({ code: 0, stderr: "" });
    const empty = mkdtempSync(join(tmpdir(), "ballast-nosecret-"));
    try {
      // A --dir without a secret, the cluster's address given: refused, and told why.
      const elsewhere = ["jobs", "--master", cluster.scheduler, "--dir", empty];
      const stranger = await cli(elsewhere);
      expect(stranger.code).toBe(1);
      expect(stranger.stderr).toMatch(/no credentials.*BALLAST_TOKEN/);
      expect((await cli(elsewhere, { BALLAST_TOKEN: token(USER) })).code).toBe(0);
      expect((await cli(elsewhere, { BALLAST_SECRET_FILE: cluster.secretFile })).code).toBe(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("operator commands need the cluster's credentials, not a user token", async () => {
    const denied = await cli(["recommission", "node-1", "--dir", cluster.dir], { BALLAST_TOKEN: token(USER) });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/user alice may not call ballast\.v1\.SchedulerService\/RecommissionNode/);
  });

  it("keeps users' staging apart on a real cluster: same names, own data, no reaching across", async () => {
    const work = mkdtempSync(join(tmpdir(), "ballast-users-"));
    try {
      const wordsOf = { alice: "apple apple pear\n", bob: "plum\n" };
      for (const [user, text] of Object.entries(wordsOf)) {
        mkdirSync(join(work, user));
        writeFileSync(join(work, user, "data.txt"), text);
        const as = { BALLAST_USER: user };
        const job = await cli(["submit", "--dir", cluster.dir, "--file", join(work, user, "data.txt"), "examples/wordcount.ts", "--", "--input", "staging://data.txt", "--output", "staging://wc"], as);
        expect(job.code, job.stderr).toBe(0);
      }
      for (const user of ["alice", "bob"]) {
        expect((await cli(["fetch", "--dir", cluster.dir, "staging://wc", join(work, user, "out")], { BALLAST_USER: user })).code).toBe(0);
      }
      expect(readCountsDir(join(work, "alice", "out")).counts).toEqual(new Map([["apple", 2], ["pear", 1]]));
      expect(readCountsDir(join(work, "bob", "out")).counts).toEqual(new Map([["plum", 1]]));
      // Carol has uploaded nothing: alice's data.txt is not hers to read.
      const carol = await cli(["submit", "--dir", cluster.dir, "examples/wordcount.ts", "--", "--input", "staging://data.txt", "--output", "staging://wc"], { BALLAST_USER: "carol" });
      expect(carol.code).not.toBe(0);
      expect(carol.stderr).toMatch(/staging:\/\/data\.txt/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("a service started without a secret refuses to start, saying how; --insecure-no-auth serves anyone", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ballast-noauth-"));
    try {
      const refused = await exec(process.execPath, [builtEntry("@ballast/staging"), "--data-dir", dataDir], { env: withoutSecret() }).catch((err) => err);
      expect(refused.code).toBe(2);
      expect(String(refused.stderr)).toMatch(/no cluster secret: pass --secret-file FILE.*--insecure-no-auth/);
      const port = await freePort();
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, [builtEntry("@ballast/staging"), "--data-dir", dataDir, "--address", `127.0.0.1:${port}`, "--insecure-no-auth"], { env: withoutSecret(), stdio: "ignore" });
      try {
        for (const deadline = Date.now() + 30_000; !(await isServing(`127.0.0.1:${port}`, 500)); ) if (Date.now() > deadline) throw new Error("staging did not start");
        expect(await codeOf(raw(StagingServiceClient, `127.0.0.1:${port}`), "list", { prefix: "" })).toBe(status.OK);
      } finally {
        child.kill("SIGKILL");
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
