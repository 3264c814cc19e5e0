import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LocalBlobStore } from "./local-blob-store.js";
import { DataLayout } from "./layout.js";

/** Promote is a job's output commit: all or nothing, once, and durable. */
const dirs: string[] = [];
const stores: LocalBlobStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close(0).catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openStore(dataDir?: string): { store: LocalBlobStore; dataDir: string } {
  if (!dataDir) dirs.push((dataDir = mkdtempSync(join(tmpdir(), "staging-promote-"))));
  const store = LocalBlobStore.open({ dataDir });
  stores.push(store);
  return { store, dataDir };
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const EMPTY = sha256(Buffer.alloc(0));

async function put(store: LocalBlobStore, text: string, name?: string): Promise<string> {
  const data = Buffer.from(text);
  const opened = await store.openUpload({ sha256: sha256(data), size: data.length, offset: 0, name });
  if (opened.kind === "open") {
    await opened.sink.write(data);
    await opened.sink.complete();
  }
  return sha256(data);
}

async function contents(store: LocalBlobStore, prefix: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  for (const blob of await store.list(prefix)) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of store.read(blob.sha256, { start: 0, end: blob.size }, 1024)) chunks.push(chunk);
    entries[blob.name.slice(prefix.length)] = Buffer.concat(chunks).toString();
  }
  return entries;
}

/** Two committed attempts in _temporary, a denied one beside them, and a part of an earlier run. */
async function attemptsOf(store: LocalBlobStore): Promise<void> {
  await put(store, "", undefined);
  await put(store, "zero\n", "out/_temporary/t0/part-00000");
  await put(store, "one\n", "out/_temporary/t1b/part-00001");
  await put(store, "one, denied\n", "out/_temporary/t1a/part-00001");
  await put(store, "stale\n", "out/part-00007");
  await put(store, "keep\n", "outside/part-00000");
}

const commitOf = (commitId: string) => ({
  commitId,
  bindings: [
    { name: "out/part-00000", sourceName: "out/_temporary/t0/part-00000" },
    { name: "out/part-00001", sourceName: "out/_temporary/t1b/part-00001" },
    { name: "out/_SUCCESS", sha256: EMPTY },
  ],
  removePrefix: "out/",
});

describe("LocalBlobStore.promote", () => {
  it("promotes the committed attempts, writes _SUCCESS and leaves exactly them under the prefix", async () => {
    const { store, dataDir } = openStore();
    await attemptsOf(store);
    const denied = (await store.stat({ name: "out/_temporary/t1a/part-00001" })).sha256;
    expect(await store.promote(commitOf("app/job-1"))).toEqual({ alreadyApplied: false, removed: 4 });
    expect(await contents(store, "out/")).toEqual({ _SUCCESS: "", "part-00000": "zero\n", "part-00001": "one\n" });
    expect(await contents(store, "outside/")).toEqual({ "part-00000": "keep\n" });
    // The denied attempt's bytes had no other name: their blob is gone with it.
    expect(existsSync(new DataLayout(dataDir).blobPath(denied))).toBe(false);
  });

  it("changes nothing when a source is missing, and says which", async () => {
    const { store } = openStore();
    await attemptsOf(store);
    const before = await contents(store, "out/");
    const broken = { ...commitOf("app/job-2"), bindings: [...commitOf("").bindings, { name: "out/part-00002", sourceName: "out/_temporary/t2/part-00002" }] };
    await expect(store.promote(broken)).rejects.toThrow(/out\/_temporary\/t2\/part-00002/);
    expect(await contents(store, "out/")).toEqual(before);
    // Not recorded either: the same commit id still applies once the source is there.
    await put(store, "two\n", "out/_temporary/t2/part-00002");
    expect((await store.promote(broken)).alreadyApplied).toBe(false);
  });

  it("answers a retry of an applied commit without redoing it, across a restart", async () => {
    const first = openStore();
    await attemptsOf(first.store);
    await first.store.promote(commitOf("app/job-3"));
    await first.store.close(0);
    const { store } = openStore(first.dataDir);
    // A zombie named a temporary after the commit; the retry (its sources gone) must not fail or sweep.
    await put(store, "zombie\n", "out/_temporary/t9/part-00000");
    expect(await store.promote(commitOf("app/job-3"))).toEqual({ alreadyApplied: true, removed: 0 });
    expect((await contents(store, "out/"))["part-00000"]).toBe("zero\n");
  });

  it("an abort removes the attempts' temporaries and nothing else", async () => {
    const { store } = openStore();
    await attemptsOf(store);
    expect(await store.promote({ commitId: "", bindings: [], removePrefix: "out/_temporary/" })).toEqual({ alreadyApplied: false, removed: 3 });
    expect(await contents(store, "out/")).toEqual({ "part-00007": "stale\n" });
    expect((await store.promote({ commitId: "", bindings: [], removePrefix: "out/_temporary/" })).removed).toBe(0);
  });

  it("refuses a prefix that is not a directory, and a name bound twice", async () => {
    const { store } = openStore();
    await attemptsOf(store);
    for (const removePrefix of ["", "/", "out", "../out/"]) {
      await expect(store.promote({ commitId: "", bindings: [], removePrefix })).rejects.toMatchObject({ name: "InvalidArgumentError" });
    }
    const twice = { ...commitOf(""), bindings: [...commitOf("").bindings, { name: "out/part-00000", sha256: EMPTY }] };
    await expect(store.promote(twice)).rejects.toThrow(/twice/);
    expect(Object.keys(await contents(store, "out/"))).toHaveLength(4);
  });
});
