import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken, type Identity } from "@ballast/common/auth";
import { processSecurity } from "@ballast/common/security";
import { StagingClient } from "@ballast/clients/staging";
import { createClient } from "@ballast/common/grpc";
import { StagingServiceClient } from "@ballast/gen/staging";
import { startStagingServer, type StagingServer } from "../server.js";

/** Staging keeps users apart: each sees its own space, and a digest alone opens nothing. */
let dir: string;
let server: StagingServer;
const clients: StagingClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "staging-iso-"));
  server = await startStagingServer({ address: "127.0.0.1:0", dataDir: join(dir, "data") });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

/** A client with the token of `identity` (the secret is this test process's, test/support/auth.ts). */
function clientAs(identity: Identity): StagingClient {
  const client = new StagingClient(server.address, { token: mintToken(processSecurity().secret!, identity), maxRetries: 0 });
  clients.push(client);
  return client;
}

const alice = () => clientAs({ role: "user", user: "alice" });
const bob = () => clientAs({ role: "user", user: "bob" });

describe("staging isolation", () => {
  it("keeps two users' data.txt apart", async () => {
    const [a, b] = [alice(), bob()];
    await a.uploadBytes(Buffer.from("alice's words"), "data.txt");
    await b.uploadBytes(Buffer.from("bob's words"), "data.txt");
    expect(Buffer.from(await a.downloadBytes({ name: "data.txt" })).toString()).toBe("alice's words");
    expect(Buffer.from(await b.downloadBytes({ name: "data.txt" })).toString()).toBe("bob's words");
    expect((await a.list()).map((blob) => blob.name)).toEqual(["data.txt"]);
    // The cluster sees both, where they are stored.
    const all = (await clientAs({ role: "cluster" }).list("users/")).map((blob) => blob.name);
    expect(all).toEqual(expect.arrayContaining(["users/alice/data.txt", "users/bob/data.txt"]));
  });

  it("one user cannot read, overwrite or delete another's blobs", async () => {
    const [a, b] = [alice(), bob()];
    const secret = await a.uploadBytes(randomBytes(1000), "private.bin");
    await expect(b.stat({ name: "private.bin" })).rejects.toMatchObject({ name: "NotFoundError" });
    // Knowing the digest is not enough, by stat, download or link.
    await expect(b.stat({ sha256: secret.sha256 })).rejects.toMatchObject({ name: "NotFoundError" });
    await expect(b.downloadBytes({ sha256: secret.sha256 })).rejects.toMatchObject({ name: "NotFoundError" });
    await expect(b.link("stolen.bin", secret.sha256)).rejects.toMatchObject({ name: "NotFoundError" });
    // Paths cannot climb out of the space.
    await expect(b.stat({ name: "../alice/private.bin" })).rejects.toMatchObject({ name: "InvalidArgumentError" });
    // Bob's writes and deletes land in his own space.
    await b.uploadBytes(Buffer.from("overwritten?"), "private.bin");
    expect(await b.delete("private.bin")).toBe(true);
    expect(await a.stat({ name: "private.bin" })).toMatchObject({ sha256: secret.sha256 });
  });

  it("a user who uploads the same bytes owns them, after sending every byte", async () => {
    const [a, b] = [alice(), bob()];
    const data = randomBytes(200_000);
    const first = await a.uploadBytes(data, "shared-content.bin");
    // Claiming alice's digest with other bytes (the real client cannot): refused, nothing gained.
    const raw = createClient(StagingServiceClient, server.address, mintToken(processSecurity().secret!, { role: "user", user: "carol" }));
    try {
      const claim = new Promise((resolve, reject) => {
        const stream = raw.upload((err, res) => (err ? reject(err) : resolve(res)));
        stream.write({ message: { $case: "header", value: { name: "claimed.bin", sha256: first.sha256, size: data.length, offset: 0 } } });
        stream.write({ message: { $case: "chunk", value: randomBytes(data.length) } });
        stream.end();
      });
      await expect(claim).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/^digest mismatch/) });
    } finally {
      raw.close();
    }
    await expect(clientAs({ role: "user", user: "carol" }).stat({ sha256: first.sha256 })).rejects.toMatchObject({ name: "NotFoundError" });
    const again = await b.uploadBytes(data, "mine.bin");
    expect(again.sha256).toBe(first.sha256);
    expect(Buffer.from(await b.downloadBytes({ sha256: first.sha256 })).equals(data)).toBe(true);
  });

  it("a job's token reads exactly its inputs and names only its output's temporaries, and lists and deletes nothing", async () => {
    const input = await alice().uploadBytes(Buffer.from("input"), "in.txt");
    const unpinned = await alice().uploadBytes(Buffer.from("unpinned input"), "named.txt");
    const other = await alice().uploadBytes(Buffer.from("alice's other data"), "other.txt");
    const job = clientAs({ role: "job", user: "alice", jobId: "job-0001", grants: { read: [input.sha256], names: ["named.txt"], write: "out" } });
    expect(await job.stat({ sha256: input.sha256 })).toMatchObject({ sha256: input.sha256 });
    expect(Buffer.from(await job.downloadBytes({ name: "named.txt" })).toString()).toBe("unpinned input");
    // Another name, or digest, of the same space: refused, though alice's own token reads it.
    await expect(job.stat({ name: "other.txt" })).rejects.toMatchObject({ code: 7, details: expect.stringMatching(/may not read name "other.txt"/) });
    await expect(job.downloadBytes({ sha256: other.sha256 })).rejects.toMatchObject({ code: 7 });
    await expect(job.stat({ name: "in.txt" })).rejects.toMatchObject({ code: 7 }); // pinned: by digest only
    expect(await alice().stat({ name: "other.txt" })).toMatchObject({ sha256: other.sha256 });
    // Its parts go under its output's _temporary/ and nowhere else.
    const part = await job.uploadBytes(Buffer.from("output"));
    expect(await job.link("out/_temporary/t0/part-00000", part.sha256)).toMatchObject({ name: "out/_temporary/t0/part-00000" });
    expect((await alice().stat({ name: "out/_temporary/t0/part-00000" })).sha256).toBe(part.sha256);
    for (const name of ["out/part-00000", "out/_SUCCESS", "in.txt", "elsewhere/_temporary/t0/part-00000"]) {
      await expect(job.link(name, part.sha256)).rejects.toMatchObject({ code: 7 });
    }
    await expect(job.uploadBytes(Buffer.from("overwrite"), "other.txt")).rejects.toMatchObject({ code: 7 });
    expect(Buffer.from(await alice().downloadBytes({ name: "other.txt" })).toString()).toBe("alice's other data");
    await expect(job.list()).rejects.toMatchObject({ code: 7 });
    await expect(job.delete("in.txt")).rejects.toMatchObject({ code: 7 });
    const bobsJob = clientAs({ role: "job", user: "bob", jobId: "job-0002", grants: { read: [input.sha256], names: ["in.txt"], write: "" } });
    await expect(bobsJob.stat({ name: "in.txt" })).rejects.toMatchObject({ name: "NotFoundError" });
    await expect(bobsJob.stat({ sha256: input.sha256 })).rejects.toMatchObject({ name: "NotFoundError" });
  });

  it("only the cluster promotes: a user or a job cannot fake a job's commit", async () => {
    const part = await alice().uploadBytes(Buffer.from("forged"), "fake/_temporary/t0/part-00000");
    const promotion = { commitId: "", bindings: [{ name: "fake/part-00000", sourceName: "fake/_temporary/t0/part-00000" }], removePrefix: "fake/" };
    await expect(alice().promote(promotion)).rejects.toMatchObject({ code: 7 });
    await expect(clientAs({ role: "job", user: "alice", jobId: "job-0001", grants: { read: [], names: [], write: "fake" } }).promote(promotion)).rejects.toMatchObject({ code: 7 });
    await expect(alice().stat({ name: "fake/part-00000" })).rejects.toMatchObject({ name: "NotFoundError" });
    // The scheduler's credentials promote in the owner's space, where the attempt named its part.
    const cluster = clientAs({ role: "cluster" });
    const asCluster = { commitId: "", bindings: [{ name: "users/alice/fake/part-00000", sourceName: "users/alice/fake/_temporary/t0/part-00000" }], removePrefix: "users/alice/fake/" };
    expect(await cluster.promote(asCluster)).toEqual({ alreadyApplied: false, removed: 1 });
    expect(await alice().list("fake/")).toEqual([expect.objectContaining({ name: "fake/part-00000", sha256: part.sha256 })]);
  });
});
