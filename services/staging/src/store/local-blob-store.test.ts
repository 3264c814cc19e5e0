import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { openDatabase } from "@ballast/common/sqlite";
import type { UploadSink } from "./blob-store.js";
import { LocalBlobStore } from "./local-blob-store.js";
import { MIGRATIONS } from "./metadata.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const KIB = 1024;

const dirs: string[] = [];
const stores: LocalBlobStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close(0).catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openStore(dataDir = newDir(), syncEveryBytes = 64 * KIB): LocalBlobStore {
  const store = LocalBlobStore.open({ dataDir, syncEveryBytes });
  stores.push(store);
  return store;
}

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "staging-store-"));
  dirs.push(dir);
  return dir;
}

async function openSink(store: LocalBlobStore, data: Uint8Array, offset = 0, name?: string): Promise<UploadSink> {
  const opened = await store.openUpload({ sha256: sha256(data), size: data.length, offset, name });
  if (opened.kind !== "open") throw new Error("expected a new upload");
  return opened.sink;
}

async function put(store: LocalBlobStore, data: Uint8Array, name?: string) {
  const sink = await openSink(store, data, 0, name);
  for (let i = 0; i < data.length; i += 16 * KIB) await sink.write(data.subarray(i, i + 16 * KIB));
  return sink.complete();
}

async function readAll(store: LocalBlobStore, hash: string, start: number, end: number) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of store.read(hash, { start, end }, 10 * KIB)) {
    expect(chunk.length).toBeLessThanOrEqual(10 * KIB);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

describe("LocalBlobStore", () => {
  it("stores a verified blob under its digest and name", async () => {
    const store = openStore();
    const data = randomBytes(100 * KIB);
    const blob = await put(store, data, "inputs/a.bin");
    expect(blob).toMatchObject({ name: "inputs/a.bin", sha256: sha256(data), size: data.length });
    expect(await store.stat({ name: "inputs/a.bin" })).toEqual(blob);
    expect(await store.stat({ sha256: blob.sha256 })).toEqual({ ...blob, name: "" });
    expect(await readAll(store, blob.sha256, 0, data.length)).toEqual(data);
    expect(await readAll(store, blob.sha256, 5000, 30000)).toEqual(data.subarray(5000, 30000));
    expect(await store.uploadStatus(blob.sha256)).toEqual({ committedOffset: data.length, complete: true });
  });

  it("rejects a digest mismatch and keeps nothing", async () => {
    const dir = newDir();
    const store = openStore(dir);
    const data = randomBytes(50 * KIB);
    const claimed = sha256(Buffer.from("something else"));
    const opened = await store.openUpload({ sha256: claimed, size: data.length, offset: 0, name: "x" });
    if (opened.kind !== "open") throw new Error("expected open");
    await opened.sink.write(data);
    await expect(opened.sink.complete()).rejects.toThrow(`digest mismatch: expected ${claimed}, got ${sha256(data)}`);
    await expect(store.stat({ name: "x" })).rejects.toThrow(/no blob named/);
    expect(await store.uploadStatus(claimed)).toEqual({ committedOffset: 0, complete: false });
    expect(await store.list("")).toEqual([]);
    expect(existsSync(join(dir, "uploads", `${claimed}.partial`))).toBe(false);
  });

  it("rejects more bytes than the declared size", async () => {
    const store = openStore();
    const data = randomBytes(10 * KIB);
    const sink = await openSink(store, data);
    await expect(sink.write(Buffer.concat([data, Buffer.from("x")]))).rejects.toThrow(/more than its declared size/);
    expect(await store.uploadStatus(sha256(data))).toEqual({ committedOffset: 0, complete: false });
  });

  it("resumes exactly at the committed offset, and only there", async () => {
    const store = openStore();
    const data = randomBytes(200 * KIB);
    const first = await openSink(store, data);
    await first.write(data.subarray(0, 70 * KIB));
    await expect(first.complete()).rejects.toThrow(/resume from offset 71680/);
    await expect(store.openUpload({ sha256: sha256(data), size: data.length, offset: 0 })).rejects.toThrow(/resume from offset 71680/);
    const second = await openSink(store, data, 70 * KIB, "b");
    await second.write(data.subarray(70 * KIB));
    const blob = await second.complete();
    expect(await readAll(store, blob.sha256, 0, blob.size)).toEqual(data);
  });

  it("allows one upload of a digest at a time", async () => {
    const store = openStore();
    const data = randomBytes(KIB);
    const sink = await openSink(store, data);
    await expect(store.openUpload({ sha256: sha256(data), size: data.length, offset: 0 })).rejects.toThrow(/already in progress/);
    await sink.suspend();
    const next = await openSink(store, data);
    await next.suspend();
  });

  it("after a crash, cuts a partial back to its committed offset", async () => {
    const dir = newDir();
    const crashed = openStore(dir, 64 * KIB);
    const data = randomBytes(200 * KIB);
    const sink = await openSink(crashed, data);
    await sink.write(data.subarray(0, 64 * KIB)); // fsynced and committed
    await sink.write(data.subarray(64 * KIB, 100 * KIB)); // written, never committed
    const partial = join(dir, "uploads", `${sha256(data)}.partial`);
    expect(statSync(partial).size).toBe(100 * KIB);

    const restarted = openStore(dir); // the crashed store is simply abandoned
    expect(restarted.recovery.truncatedUploads).toBe(1);
    expect(statSync(partial).size).toBe(64 * KIB);
    expect(await restarted.uploadStatus(sha256(data))).toEqual({ committedOffset: 64 * KIB, complete: false });
    const resumed = await openSink(restarted, data, 64 * KIB);
    await resumed.write(data.subarray(64 * KIB));
    const blob = await resumed.complete();
    expect(await readAll(restarted, blob.sha256, 0, blob.size)).toEqual(data);
    await sink.discard(); // only to close the abandoned file handle
  });

  it("at start removes orphan files and forgets blobs whose file is gone", async () => {
    const dir = newDir();
    const first = openStore(dir);
    const kept = await put(first, randomBytes(KIB), "kept");
    const lost = await put(first, randomBytes(KIB), "lost");
    await first.close();
    rmSync(join(dir, "blobs", lost.sha256));
    writeFileSync(join(dir, "blobs", "f".repeat(64)), "orphan blob");
    writeFileSync(join(dir, "uploads", `${"e".repeat(64)}.partial`), "orphan partial");

    const store = openStore(dir);
    expect(store.recovery).toMatchObject({ removedOrphans: 2, forgottenBlobs: 1 });
    expect(existsSync(join(dir, "blobs", "f".repeat(64)))).toBe(false);
    expect((await store.list("")).map((b) => b.name)).toEqual(["kept"]);
    expect(readFileSync(join(dir, "blobs", kept.sha256)).length).toBe(KIB);
  });

  it("re-uploading a stored blob only links the name", async () => {
    const store = openStore();
    const data = randomBytes(KIB);
    await put(store, data, "one");
    const again = await store.openUpload({ sha256: sha256(data), size: data.length, offset: 0, name: "two" });
    expect(again).toMatchObject({ kind: "exists", blob: { name: "two", sha256: sha256(data) } });
    await expect(store.openUpload({ sha256: sha256(data), size: 5, offset: 0 })).rejects.toThrow(/stored with size 1024, not 5/);
    expect((await store.list("")).map((b) => b.name)).toEqual(["one", "two"]);
  });

  it("removes a blob file when its last name goes", async () => {
    const dir = newDir();
    const store = openStore(dir);
    const blob = await put(store, randomBytes(KIB), "out/a");
    await store.link("out/b", blob.sha256);
    const file = join(dir, "blobs", blob.sha256);
    expect(await store.delete("out/a")).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(await store.delete("out/a")).toBe(false);
    expect(await store.delete("out/b")).toBe(true);
    expect(existsSync(file)).toBe(false);
    await expect(store.stat({ sha256: blob.sha256 })).rejects.toThrow(/no blob with sha256/);
  });

  it("links names only to stored blobs, and re-pointing a name releases the old blob", async () => {
    const dir = newDir();
    const store = openStore(dir);
    await expect(store.link("x", "a".repeat(64))).rejects.toThrow(/no blob with sha256/);
    const old = await put(store, randomBytes(KIB), "current");
    const next = await put(store, randomBytes(KIB));
    expect(await store.link("current", next.sha256)).toMatchObject({ name: "current", sha256: next.sha256 });
    expect(existsSync(join(dir, "blobs", old.sha256))).toBe(false);
    await expect(store.link("../x", next.sha256)).rejects.toThrow(/invalid name/);
  });

  it("lists names by prefix in order", async () => {
    const store = openStore();
    const blob = await put(store, randomBytes(KIB));
    for (const name of ["out/part-1", "in/a", "out/part-0", "outside"]) await store.link(name, blob.sha256);
    expect((await store.list("out/")).map((b) => b.name)).toEqual(["out/part-0", "out/part-1"]);
    expect((await store.list("out")).map((b) => b.name)).toEqual(["out/part-0", "out/part-1", "outside"]);
  });
});

describe("LocalBlobStore garbage collection", () => {
  const HOUR = 3_600_000;

  it("removes uploads left unfinished past the timeout and blobs no name points at past their retention", async () => {
    const store = openStore();
    const named = await put(store, randomBytes(10 * KIB), "inputs/kept.bin");
    const unnamed = await put(store, randomBytes(10 * KIB));
    const partial = randomBytes(200 * KIB);
    const sink = await openSink(store, partial);
    await sink.write(partial.subarray(0, 100 * KIB));
    await sink.suspend(); // the client went away mid-upload
    const now = Date.now();

    expect(store.collectGarbage({ abandonedUploadMs: HOUR, unnamedBlobMs: HOUR, bundleMs: 0 }, now)).toEqual({ uploads: 0, bundles: 0, blobs: 0 });
    expect(store.collectGarbage({ abandonedUploadMs: HOUR, unnamedBlobMs: HOUR, bundleMs: 0 }, now + 2 * HOUR)).toEqual({ uploads: 1, bundles: 0, blobs: 1 });
    expect(await store.uploadStatus(sha256(partial))).toEqual({ committedOffset: 0, complete: false });
    await expect(store.stat({ sha256: unnamed.sha256 })).rejects.toThrow(/no blob with sha256/);
    expect(await store.stat({ name: "inputs/kept.bin" })).toEqual(named);
    expect(await readAll(store, named.sha256, 0, named.size)).toHaveLength(named.size);
  });

  it("retires job bundles not uploaded again within their retention, in any user's space; other names stay", async () => {
    // Names are stamped with Date.now(): a fake clock (Date only) moves the renewal 5 hours on.
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    onTestFinished(() => void vi.useRealTimers());
    const store = openStore();
    const code = randomBytes(KIB);
    const bundle = (prefix: string) => `${prefix}bundles/${sha256(code)}.mjs`;
    // As `ballast submit` does: the first upload stores the blob, later ones only (re)name it.
    const submit = (name: string) => store.openUpload({ sha256: sha256(code), size: code.length, offset: 0, name });
    await put(store, code, bundle(""));
    await submit(bundle("users/alice/"));
    const stale = await put(store, randomBytes(KIB), `bundles/${"0".repeat(64)}.mjs`);
    const kept = await put(store, randomBytes(KIB), "bundles/notes.txt"); // not a bundle's name: a user's file
    const policy = { abandonedUploadMs: HOUR, unnamedBlobMs: HOUR, bundleMs: 10 * HOUR };
    expect(store.collectGarbage(policy, t0 + 5 * HOUR).bundles).toBe(0);
    vi.setSystemTime(t0 + 5 * HOUR);
    await submit(bundle("")); // resubmitted: its name is renewed, alice's is not

    expect(store.collectGarbage(policy, t0 + 11 * HOUR)).toEqual({ uploads: 0, bundles: 2, blobs: 0 });
    expect((await store.stat({ name: bundle("") })).sha256).toBe(sha256(code));
    await expect(store.stat({ name: bundle("users/alice/") })).rejects.toThrow(/no blob named/);
    await expect(store.stat({ sha256: stale.sha256 })).rejects.toThrow(/no blob with sha256/);
    expect(await store.stat({ name: "bundles/notes.txt" })).toEqual(kept);
    expect(store.collectGarbage({ ...policy, bundleMs: 0 }, t0 + 1000 * HOUR).bundles).toBe(0); // 0 keeps them
  });

  it("counts names from before the upgrade from the upgrade: none retires at once", async () => {
    const dir = newDir();
    const old = openStore(dir);
    const code = randomBytes(KIB);
    const bundle = `bundles/${sha256(code)}.mjs`;
    await put(old, code, bundle);
    await old.close(0);
    // Back to the schema before names were stamped (migration 2), as a store of the last release left it.
    const db = openDatabase(join(dir, "staging.sqlite"), MIGRATIONS); // the file as it is: every migration already applied
    db.exec("ALTER TABLE names DROP COLUMN named_at_ms");
    db.pragma("user_version = 2");
    db.close();

    const upgraded = openStore(dir);
    const policy = { abandonedUploadMs: HOUR, unnamedBlobMs: HOUR, bundleMs: HOUR };
    expect(upgraded.collectGarbage(policy, Date.now() + HOUR / 2).bundles).toBe(0);
    expect((await upgraded.stat({ name: bundle })).sha256).toBe(sha256(code));
    expect(upgraded.collectGarbage(policy, Date.now() + 2 * HOUR).bundles).toBe(1);
  });

  it("leaves an upload that is still being written alone", async () => {
    const store = openStore();
    const data = randomBytes(50 * KIB);
    const sink = await openSink(store, data);
    await sink.write(data.subarray(0, 10 * KIB));
    expect(store.collectGarbage({ abandonedUploadMs: 1, unnamedBlobMs: HOUR, bundleMs: 0 }, Date.now() + HOUR).uploads).toBe(0);
    await sink.write(data.subarray(10 * KIB));
    expect((await sink.complete()).sha256).toBe(sha256(data));
  });
});
