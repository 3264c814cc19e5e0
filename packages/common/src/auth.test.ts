import { createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AuthSetupError, ensureSecretFile, mayCall, METHOD_ACCESS, mintTimedToken, mintToken, readSecretFile, verifyTimedToken, verifyToken, type Identity } from "./auth.js";
import { packageDir } from "./entry.js";
import { jobGrantsOf, takeSecurityFlags } from "./security.js";
import type { Plan } from "./plan.js";

const secret = Buffer.alloc(32, 1);
const identities: Identity[] = [{ role: "cluster" }, { role: "user", user: "alice" }, { role: "job", user: "alice", jobId: "job-0001", grants: { read: ["a".repeat(64)], names: ["in.txt"], write: "out" } }];

describe("tokens", () => {
  it("verify to the identity they were minted for", () => {
    for (const identity of identities) expect(verifyToken(secret, mintToken(secret, identity))).toEqual(identity);
  });

  it("do not verify under another secret, altered, or malformed", () => {
    const token = mintToken(secret, { role: "user", user: "alice" });
    expect(verifyToken(Buffer.alloc(32, 2), token)).toBeUndefined();
    // Claiming another user (or the cluster role) with alice's MAC.
    const [version, , , mac] = token.split(".");
    expect(verifyToken(secret, [version, "user", Buffer.from("bob").toString("base64url"), mac].join("."))).toBeUndefined();
    expect(verifyToken(secret, [version, "cluster", Buffer.from("cluster").toString("base64url"), mac].join("."))).toBeUndefined();
    for (const bad of ["", "x", "bt1.user.YWxpY2U", `${token}x`, token.replace(/^bt1/, "bt2")]) expect(verifyToken(secret, bad)).toBeUndefined();
  });

  it("carry a job's grants under the MAC: a job token without them, or with others, is no token", () => {
    const job = identities[2] as Extract<Identity, { role: "job" }>;
    const [version, role, , mac] = mintToken(secret, job).split(".");
    const forged = (subject: string) => [version, role, Buffer.from(subject).toString("base64url"), mac].join(".");
    expect(verifyToken(secret, forged("alice/job-0001"))).toBeUndefined();
    expect(verifyToken(secret, forged(`alice/job-0001\n${JSON.stringify({ ...job.grants, names: ["other.txt"] })}`))).toBeUndefined();
    // A token minted without grants (the old format) verifies to nothing either.
    const old = (subject: string) => [version, role, Buffer.from(subject).toString("base64url"), createHmac("sha256", secret).update(`ballast-token\nbt1\njob\n${subject}`).digest("base64url")].join(".");
    expect(verifyToken(secret, old(`alice/job-0001\n${JSON.stringify(job.grants)}`))).toEqual(job);
    expect(verifyToken(secret, old("alice/job-0001"))).toBeUndefined();
  });

  it("of a job grant its bundle, its staging inputs (by pinned digest, else by name) and its output's temporaries", () => {
    const plan = {
      action: "saveAsTextFile",
      outputUri: "staging://results/wc/",
      inputs: [{ uri: "staging://corpus.txt", size: 3, sha256: "c".repeat(64) }, { uri: "staging://loose.txt", size: 1 }, { uri: "file:///data/x", size: 1 }],
    } as Plan;
    expect(jobGrantsOf(plan, "b".repeat(64))).toEqual({ read: ["b".repeat(64), "c".repeat(64)], names: ["loose.txt"], write: "results/wc" });
    expect(jobGrantsOf({ ...plan, action: "collect", outputUri: "" }, "b".repeat(64)).write).toBe("");
    expect(jobGrantsOf({ ...plan, outputUri: "file:///out" }, "b".repeat(64)).write).toBe("");
  });

  it("refuse names that could be confused with a job scope", () => {
    expect(() => mintToken(secret, { role: "user", user: "alice/job-1" })).toThrow(AuthSetupError);
    expect(() => mintToken(secret, { role: "user", user: "" })).toThrow(AuthSetupError);
  });
});

describe("timed tokens (history's login links and sessions)", () => {
  const now = 1_000_000;
  const alice = mintToken(secret, { role: "user", user: "alice" });

  it("verify, without the secret to mint them, for their purpose until they expire", () => {
    const ticket = mintTimedToken(alice, "login", now + 60_000);
    expect(verifyTimedToken(secret, ticket, "login", now, 60_000)).toEqual({ role: "user", user: "alice" });
    expect(verifyTimedToken(secret, ticket, "login", now + 60_000, 60_000)).toBeUndefined(); // expired
    expect(verifyTimedToken(secret, ticket, "session", now, 60_000)).toBeUndefined(); // another purpose
    expect(verifyTimedToken(secret, ticket, "login", now, 59_999)).toBeUndefined(); // lasts longer than allowed
    expect(verifyTimedToken(Buffer.alloc(32, 2), ticket, "login", now, 60_000)).toBeUndefined();
    expect(verifyToken(secret, ticket)).toBeUndefined(); // a ticket is no token
  });

  it("cannot be altered to another identity, expiry or purpose", () => {
    const parts = mintTimedToken(alice, "login", now + 60_000).split(".");
    const altered = (index: number, value: string) => parts.map((p, i) => (i === index ? value : p)).join(".");
    for (const forged of [altered(1, "session"), altered(2, "cluster"), altered(3, Buffer.from("bob").toString("base64url")), altered(4, String(now + 30_000)), altered(5, "x")]) {
      expect(verifyTimedToken(secret, forged, "login", now, 60_000), forged).toBeUndefined();
    }
    expect(() => mintTimedToken("not a token", "login", now)).toThrow(AuthSetupError);
  });
});

describe("the secret file", () => {
  it("is 32 random bytes, mode 0600, kept once written", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-auth-"));
    try {
      const file = join(dir, "secret");
      ensureSecretFile(file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const first = readSecretFile(file);
      expect(first.length).toBe(32);
      ensureSecretFile(file);
      expect(readSecretFile(file)).toEqual(first);
      expect(() => readSecretFile(join(dir, "missing"))).toThrow(/cannot read the cluster secret .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("METHOD_ACCESS", () => {
  it("has an entry for every method of every service in gen/, and none for methods that do not exist", async () => {
    const genDir = join(packageDir("@ballast/gen"), "ballast", "v1");
    const paths: string[] = [];
    for (const file of readdirSync(genDir).filter((f) => f.endsWith(".ts"))) {
      const module = await import(`@ballast/gen/${file.replace(/\.ts$/, "")}`);
      for (const [name, value] of Object.entries(module)) {
        if (!name.endsWith("Service") || typeof value !== "object" || value === null) continue;
        for (const method of Object.values(value as Record<string, { path?: string }>)) if (method.path) paths.push(method.path.slice(1));
      }
    }
    expect(paths.length).toBeGreaterThan(30);
    expect(paths.filter((p) => !(p in METHOD_ACCESS))).toEqual([]);
    expect(Object.keys(METHOD_ACCESS).filter((p) => !paths.includes(p))).toEqual([]);
  });

  it("keeps internal calls to the cluster and job tokens to staging", () => {
    const user = identities[1]!;
    const job = identities[2]!;
    for (const internal of ["SchedulerService/ExecutorSession", "SchedulerService/DecommissionNode", "ShuffleService/WriteMapOutput", "HistoryService/PublishEvents", "StagingService/Promote"]) {
      expect(mayCall(user, METHOD_ACCESS[`ballast.v1.${internal}`]!)).toBe(false);
      expect(mayCall({ role: "cluster" }, METHOD_ACCESS[`ballast.v1.${internal}`]!)).toBe(true);
    }
    // A job's token reaches staging only, and not the job commit, which is the scheduler's.
    const jobReaches = (path: string) => path.startsWith("ballast.v1.StagingService/") && path !== "ballast.v1.StagingService/Promote";
    for (const [path, access] of Object.entries(METHOD_ACCESS)) expect(mayCall(job, access), path).toBe(jobReaches(path));
  });
});

describe("security flags", () => {
  it("are taken out of argv, over the environment's defaults", () => {
    const { argv, flags } = takeSecurityFlags(["node", "main", "--address", "a:1", "--secret-file=/s", "--tls-cert", "/c", "--tls-key", "/k", "--insecure-no-auth"], { BALLAST_SECRET_FILE: "/env", BALLAST_TLS_CA: "/ca" });
    expect(argv).toEqual(["node", "main", "--address", "a:1"]);
    expect(flags).toEqual({ secretFile: "/s", insecureNoAuth: true, tlsCert: "/c", tlsKey: "/k", tlsCa: "/ca" });
    expect(() => takeSecurityFlags(["--secret-file"], {})).toThrow(/--secret-file needs a file path/);
  });
});
