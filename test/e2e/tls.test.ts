import { credentials, Metadata, status } from "@grpc/grpc-js";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { mintTimedToken, mintToken, readSecretFile } from "@ballast/common/auth";
import { isServing } from "@ballast/common/grpc";
import { configureSecurity, processSecurity } from "@ballast/common/security";
import { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { stopCluster, type ClusterDescription } from "@ballast/cli/cluster";
import { countWords, generateCorpus } from "../../scripts/corpus.js";
import { lastJson, runCli } from "../support/cluster.js";
import { readCountsDir } from "../support/wordcount.js";

/** `ballast up --tls`: a CA and per-service certificates, every service over mutual TLS, history over HTTPS. */
const dir = mkdtempSync(join(tmpdir(), "ballast-tls-"));
const readClusterJson = (): ClusterDescription => JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8"));
const pem = (name: string) => readFileSync(join(dir, "tls", name));

afterAll(async () => {
  await stopCluster(dir, 2000);
  rmSync(dir, { recursive: true, force: true });
});

describe("a cluster over mutual TLS", () => {
  it("starts with a CA, a certificate per service and keys only their owner reads", async () => {
    const up = await runCli(["up", "--tls", "--nodes", "2", "--dir", dir, "--ports", "auto"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/history https:\/\/127\.0\.0\.1:\d+, 2 nodes, mutual TLS/);
    const cluster = readClusterJson();
    expect(cluster.tls).toBe(true);
    for (const id of ["scheduler", "staging", "history", "node-1-shuffle", "node-2-executor", "client"]) {
      expect(existsSync(join(dir, "tls", `${id}.pem`)), id).toBe(true);
      expect(statSync(join(dir, "tls", `${id}-key.pem`)).mode & 0o777, id).toBe(0o600);
    }
    expect(statSync(join(dir, "tls", "ca-key.pem")).mode & 0o777).toBe(0o600);
  });

  it("runs a word count end to end, staging:// in and out", async () => {
    const corpus = join(dir, "corpus.txt");
    generateCorpus(corpus, 2 * 1024 * 1024, 7);
    const expected = countWords(readFileSync(corpus, "utf8"));
    const out = join(dir, "out");
    const job = await runCli(["submit", "--dir", dir, "--json", "--file", corpus, "examples/wordcount.ts", "--", "--input", "staging://corpus.txt", "--output", "staging://wc"]);
    expect(job.code, job.stderr).toBe(0);
    expect(lastJson(job.stdout).status).toBe("succeeded");
    const fetched = await runCli(["fetch", "--dir", dir, "staging://wc", out]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(readCountsDir(out).counts).toEqual(expected);
  });

  it("refuses plaintext and clients without a certificate from its CA", async () => {
    const scheduler = readClusterJson().scheduler;
    const saved = processSecurity();
    try {
      configureSecurity({ ...saved, tls: { cert: pem("client.pem"), key: pem("client-key.pem"), ca: pem("ca.pem") } });
      expect(await isServing(scheduler), "with the CLI's client certificate").toBe(true);
      configureSecurity({ ...saved, tls: undefined, ca: undefined });
      expect(await isServing(scheduler)).toBe(false);
      configureSecurity({ ...saved, tls: undefined, ca: pem("ca.pem") });
      expect(await isServing(scheduler), "TLS without a client certificate").toBe(false);
    } finally {
      configureSecurity(saved);
    }
    // With the CA and the client certificate, tokens still decide.
    const client = new SchedulerServiceClient(scheduler, credentials.createSsl(pem("ca.pem"), pem("client-key.pem"), pem("client.pem")));
    try {
      const listJobs = (metadata: Metadata) => new Promise<number>((resolve) => client.listJobs({ pageSize: 0, pageToken: "", applicationId: "" }, metadata, (err) => resolve(err ? err.code : status.OK)));
      expect(await listJobs(new Metadata())).toBe(status.UNAUTHENTICATED);
      const withToken = new Metadata();
      withToken.set("authorization", `Bearer ${mintToken(readSecretFile(join(dir, "secret")), { role: "user", user: "alice" })}`);
      expect(await listJobs(withToken)).toBe(status.OK);
    } finally {
      client.close();
    }
  });

  it("serves the history UI over HTTPS, verified against the cluster's CA", async () => {
    const url = `https://${readClusterJson().historyHttp}/api/v1/applications`;
    const body = await new Promise<string>((resolve, reject) => {
      const authorization = `Bearer ${mintToken(readSecretFile(join(dir, "secret")), { role: "user", user: "alice" })}`;
      request(url, { ca: pem("ca.pem"), headers: { authorization } }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
      })
        .on("error", reject)
        .end();
    });
    expect(JSON.parse(body)).toBeTypeOf("object");
  });

  it("marks history's session cookie Secure over HTTPS", async () => {
    const token = mintToken(readSecretFile(join(dir, "secret")), { role: "user", user: "alice" });
    const url = `https://${readClusterJson().historyHttp}/login?ticket=${mintTimedToken(token, "login", Date.now() + 60_000)}`;
    const cookie = await new Promise<string>((resolve, reject) => {
      request(url, { ca: pem("ca.pem") }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 303 ? resolve(String(res.headers["set-cookie"])) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
        .on("error", reject)
        .end();
    });
    expect(cookie).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
  });
});
