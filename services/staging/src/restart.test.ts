import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "@ballast/common/ports";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { isServing } from "@ballast/common/grpc";
import { StagingClient } from "@ballast/clients/staging";
import { builtEntry } from "@ballast/common/entry";

const MAIN = builtEntry("@ballast/staging");
const MIB = 1024 * 1024;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function spawnStaging(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.setEncoding("utf8");
  let stderr = "";
  child.stderr!.on("data", (text: string) => (stderr += text));
  Object.defineProperty(child, "stderrText", { get: () => stderr });
  children.push(child);
  return child;
}

async function startStaging(address: string, dataDir: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawnStaging(["--address", address, "--data-dir", dataDir], env);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`staging exited ${child.exitCode}: ${(child as any).stderrText}`);
    if (await isServing(address, 500)) return child;
  }
  throw new Error("staging did not start");
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "staging-proc-"));
  dirs.push(dir);
  return dir;
}

describe("staging process", () => {
  it("survives SIGKILL mid-upload: the client resumes from the committed offset", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const address = `127.0.0.1:${await freePort()}`;
    const data = randomBytes(20 * MIB);
    const digest = createHash("sha256").update(data).digest("hex");
    writeFileSync(join(dir, "big.bin"), data);

    let service = await startStaging(address, dataDir, { BALLAST_STAGING_TEST_DELAY_MS: "40" });
    const attempts: Array<{ attempt: number; offset: number }> = [];
    const uploader = new StagingClient(address, { onUploadAttempt: (a) => attempts.push(a) });
    const observer = new StagingClient(address, { maxRetries: 0 });
    try {
      const upload = uploader.uploadFile(join(dir, "big.bin"), "inputs/big.bin");
      upload.catch(() => undefined);
      let committedBeforeKill = 0;
      while (committedBeforeKill === 0) {
        await sleep(20);
        committedBeforeKill = (await observer.uploadStatus(digest)).committedOffset;
      }
      expect(committedBeforeKill).toBeLessThan(data.length);
      service.kill("SIGKILL");
      await exited(service);
      expect(existsSync(join(dataDir, "uploads", `${digest}.partial`))).toBe(true);

      service = await startStaging(address, dataDir);
      const info = await upload;
      expect(info).toMatchObject({ name: "inputs/big.bin", sha256: digest, size: data.length });
      const resumedAt = attempts.slice(1).map((a) => a.offset);
      expect(resumedAt.length).toBeGreaterThan(0);
      expect(resumedAt.at(-1)).toBeGreaterThanOrEqual(committedBeforeKill);
      expect(resumedAt.at(-1)).toBeGreaterThan(0);

      await uploader.downloadToFile({ name: "inputs/big.bin" }, join(dir, "copy.bin"));
      expect(readFileSync(join(dir, "copy.bin")).equals(data)).toBe(true);
      expect(existsSync(join(dataDir, "uploads", `${digest}.partial`))).toBe(false);
    } finally {
      uploader.close();
      observer.close();
    }

    // Still serving after bad requests, and stops cleanly on SIGTERM.
    const client = new StagingClient(address, { maxRetries: 0 });
    try {
      await expect(client.stat({ name: "../escape" })).rejects.toMatchObject({ name: "InvalidArgumentError" });
      await expect(client.stat({ name: "missing" })).rejects.toMatchObject({ name: "NotFoundError" });
      expect((await client.stat({ name: "inputs/big.bin" })).sha256).toBe(digest);
    } finally {
      client.close();
    }
    service.kill("SIGTERM");
    expect(await exited(service)).toBe(0);
  });

  it("retires a job bundle nobody uploaded again within ballast.staging.bundleRetention, at start-up; inputs stay", async () => {
    const dataDir = join(tempDir(), "data");
    const address = `127.0.0.1:${await freePort()}`;
    const code = randomBytes(4096);
    const bundle = `bundles/${createHash("sha256").update(code).digest("hex")}.mjs`;
    const withClient = async (body: (client: StagingClient) => Promise<void>) => {
      const client = new StagingClient(address, { maxRetries: 0 });
      await body(client).finally(() => client.close());
    };
    let service = await startStaging(address, dataDir);
    await withClient(async (client) => {
      await client.uploadBytes(code, bundle);
      await client.uploadBytes(randomBytes(4096), "inputs/kept.bin");
    });
    service.kill("SIGTERM");
    await exited(service);

    await sleep(20);
    service = await startStaging(address, dataDir, { BALLAST_STAGING_BUNDLERETENTION: "10ms" });
    await withClient(async (client) => {
      await expect(client.stat({ name: bundle })).rejects.toMatchObject({ name: "NotFoundError" });
      await expect(client.stat({ sha256: bundle.slice("bundles/".length, -".mjs".length) })).rejects.toMatchObject({ name: "NotFoundError" });
      expect((await client.stat({ name: "inputs/kept.bin" })).size).toBe(4096);
    });
    service.kill("SIGTERM");
    expect(await exited(service)).toBe(0);
  });

  it("refuses a bad flag with a one-line error and exit 2", async () => {
    const child = spawnStaging(["--data-dir", tempDir(), "--bogus"]);
    expect(await exited(child)).toBe(2);
    const stderr: string = (child as any).stderrText;
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/Unknown option '--bogus'/);
  });
});
