// The host-local path against a real shuffle server on a real file system: what it writes and
// reads is what the gRPC streams write and read, and anything amiss falls back to them.
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, type Logger } from "@ballast/common/logging";
import { ShuffleClient, ShuffleFetchError } from "@ballast/clients/shuffle";
import { startShuffleServer, type ShuffleServer } from "@ballast/shuffle/server";
import { HostLocalShuffle } from "./hostLocalShuffle.js";

const logger = createLogger("executor-test");
/** What the peer decided about the file system, from its log. */
function recordingLogger(checks: boolean[]): Logger {
  const record = (fields: { shared?: boolean }) => void (fields.shared !== undefined && checks.push(fields.shared));
  return { info: record, warn: record, debug: () => undefined } as unknown as Logger;
}
const text = (block: Uint8Array) => Buffer.from(block).toString();
const parts = (...texts: string[]) => texts.map((t) => new Uint8Array(Buffer.from(t)));

describe("host-local shuffle", () => {
  let dir: string;
  let server: ShuffleServer;
  let remote: ShuffleClient;
  const shuffleDir = () => join(dir, "shuffle");
  const local = (checks: boolean[] = []) => new HostLocalShuffle(new ShuffleClient(server.address), recordingLogger(checks));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-host-local-"));
    server = await startShuffleServer({ address: "127.0.0.1:0", dataDir: shuffleDir(), nodeId: "node-a", logger });
    remote = new ShuffleClient(server.address);
  });
  afterAll(async () => {
    remote.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes a map output through the staging directory that the service then serves over gRPC, and reads blocks from the files", async () => {
    const checks: boolean[] = [];
    const peer = local(checks);
    const ref = { shuffleId: "job-1-sh0", mapIndex: 0, attempt: 0 };
    expect(await peer.writeMapOutput(ref, parts("alpha", "", "gamma-gamma"))).toEqual([5, 0, 11]);
    expect(checks).toEqual([true]);
    expect(readdirSync(join(shuffleDir(), "staging"))).toEqual([]); // adopted: moved into place
    expect((await remote.fetchBlocks([0, 1, 2].map((partition) => ({ ref, partition })))).map(text)).toEqual(["alpha", "", "gamma-gamma"]);
    expect((await peer.fetchBlocks([2, 0].map((partition) => ({ ref, partition })))).map(text)).toEqual(["gamma-gamma", "alpha"]);
    peer.close();
  });

  it("a block whose file does not match its CRC-32 comes over gRPC, which reports it corrupt", async () => {
    const peer = local();
    const ref = { shuffleId: "job-2-sh0", mapIndex: 0, attempt: 0 };
    await peer.writeMapOutput(ref, parts("one", "two"));
    const dataFile = join(shuffleDir(), "data", "job-2-sh0", "0.0.data");
    writeFileSync(dataFile, "onX" + "two");
    const failed = await peer.fetchBlocks([{ ref, partition: 0 }]).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(ShuffleFetchError);
    expect((failed as ShuffleFetchError).kind).toBe("corrupt");
    expect((await peer.fetchBlocks([{ ref, partition: 1 }])).map(text)).toEqual(["two"]);
    peer.close();
  });

  it("an unknown output is reported missing, as over gRPC", async () => {
    const peer = local();
    const failed = await peer.fetchBlocks([{ ref: { shuffleId: "job-3-sh0", mapIndex: 7, attempt: 0 }, partition: 0 }]).catch((err: unknown) => err);
    expect((failed as ShuffleFetchError).kind).toBe("missing");
    peer.close();
  });

  it("an executor that does not read the service's token (another file system) streams over gRPC", async () => {
    const tokenFile = join(shuffleDir(), "host-local-token");
    const token = readFileSync(tokenFile, "utf8");
    writeFileSync(tokenFile, "someone else's");
    try {
      const checks: boolean[] = [];
      const peer = local(checks);
      const ref = { shuffleId: "job-4-sh0", mapIndex: 0, attempt: 0 };
      expect(await peer.writeMapOutput(ref, parts("streamed"))).toEqual([8]);
      expect(checks).toEqual([false]);
      expect((await peer.fetchBlocks([{ ref, partition: 0 }])).map(text)).toEqual(["streamed"]);
      peer.close();
    } finally {
      writeFileSync(tokenFile, token);
    }
  });

  it("the service refuses to adopt a file that is not a staged name or does not hold what it claims", async () => {
    const ref = { shuffleId: "job-5-sh0", mapIndex: 0, attempt: 0 };
    await expect(remote.adoptMapOutput(ref, "../data/x.partial", [1], [0])).rejects.toThrow(/not a file name ending in \.partial/);
    writeFileSync(join(shuffleDir(), "staging", "short.partial"), "abc");
    await expect(remote.adoptMapOutput(ref, "short.partial", [2, 2], [0, 0])).rejects.toThrow(/holds 3 bytes but its partitions cover 4/);
    await expect(remote.adoptMapOutput(ref, "gone.partial", [1], [0])).rejects.toThrow(/not found/);
    expect(await remote.listMapOutputs("job-5-sh0")).toEqual([]);
    rmSync(join(shuffleDir(), "staging", "short.partial"));
  });

  it("the service sweeps files staged long ago (their writers died before adoption), not fresh ones", () => {
    const staging = join(shuffleDir(), "staging");
    writeFileSync(join(staging, "abandoned.partial"), "x");
    writeFileSync(join(staging, "in-flight.partial"), "y");
    const hourAgo = new Date(Date.now() - 60 * 60_000);
    utimesSync(join(staging, "abandoned.partial"), hourAgo, hourAgo);
    expect(server.store.hostLocal!.sweepStale(Date.now())).toBe(1);
    expect(readdirSync(staging)).toEqual(["in-flight.partial"]);
    rmSync(join(staging, "in-flight.partial"));
  });

  it("a restarted service empties its staging directory and writes a fresh token", async () => {
    const staging = join(shuffleDir(), "staging");
    writeFileSync(join(staging, "left-behind.partial"), "x");
    const before = readFileSync(join(shuffleDir(), "host-local-token"), "utf8");
    await server.stop();
    server = await startShuffleServer({ address: server.address, dataDir: shuffleDir(), nodeId: "node-a", logger });
    expect(readdirSync(staging)).toEqual([]);
    expect(readFileSync(join(shuffleDir(), "host-local-token"), "utf8")).not.toBe(before);
  });
});
