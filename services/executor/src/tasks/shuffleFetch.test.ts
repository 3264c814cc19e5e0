import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Span } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@ballast/common/logging";
import { ShuffleClient } from "@ballast/clients/shuffle";
import { startShuffleServer, type ShuffleServer } from "@ballast/shuffle/server";
import type { ShuffleReadSpec } from "@ballast/common/domain/tasks";
import { TaskFailure } from "../core/task.js";
import { FetchedBlockStore, readFetchedBlocks, type FetchedBlock } from "./fetchedBlocks.js";
import { fetchShuffleBlocks, type FetchOptions } from "./shuffleFetch.js";

const logger = createLogger("executor-test");
const bytes = (text: string) => new TextEncoder().encode(text);

/** Records span events, standing in for the task's "shuffle.fetch" span. */
function recordingSpan(events: string[]): Span {
  return { addEvent: (name: string) => (events.push(name), undefined) } as unknown as Span;
}

function readOf(address: string, numMaps: number, nodeId = "node-a"): ShuffleReadSpec {
  const locations = Array.from({ length: numMaps }, (_, mapIndex) => ({ mapIndex, attempt: 0, shuffleAddress: address, nodeId }));
  return { shuffleIndex: 0, shuffleId: "job-1-sh0", numMaps, locations };
}

async function expectFetchFailure(promise: Promise<unknown>): Promise<TaskFailure> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TaskFailure);
  return err as TaskFailure;
}

describe("fetchShuffleBlocks", () => {
  let dir: string;
  let server: ShuffleServer;
  const clients = new Map<string, ShuffleClient>();
  const clientFor = (address: string) => {
    if (!clients.has(address)) clients.set(address, new ShuffleClient(address));
    return clients.get(address)!;
  };
  const fastRetries = { maxRetries: 3, retryWaitMs: 10, maxRetryWaitMs: 40 };
  const options = (read: ShuffleReadSpec, extra: Partial<FetchOptions> = {}): FetchOptions => ({
    reads: [read], partition: 1, policy: fastRetries, clientFor, logger, ...extra,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-executor-fetch-"));
    server = await startShuffleServer({ address: "127.0.0.1:0", dataDir: join(dir, "shuffle"), nodeId: "node-a", logger });
    const writer = clientFor(server.address);
    await writer.writeMapOutput({ shuffleId: "job-1-sh0", mapIndex: 0, attempt: 0 }, [bytes("m0p0"), bytes("m0p1")]);
    await writer.writeMapOutput({ shuffleId: "job-1-sh0", mapIndex: 1, attempt: 0 }, [bytes("m1p0"), bytes("m1p1!")]);
  });
  afterAll(async () => {
    for (const client of clients.values()) client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const decoded = (blocks: FetchedBlock[]) => [...readFetchedBlocks(blocks)].map((b) => new TextDecoder().decode(b));

  it("fetches the task's reduce partition from every map output, in map order", async () => {
    const fetched = await fetchShuffleBlocks(options(readOf(server.address, 2)));
    expect(fetched.blocks[0].every((block) => block instanceof Uint8Array)).toBe(true);
    expect(decoded(fetched.blocks[0])).toEqual(["m0p1", "m1p1!"]);
    expect(fetched).toMatchObject({ bytes: 9, bytesOnDisk: 0 });
  });

  it("writes the blocks past the store's memory budget to its dir, read back in map order", async () => {
    const read = readOf(server.address, 2);
    const storeDir = mkdtempSync(join(dir, "store-"));
    const fetched = await fetchShuffleBlocks(options(read, { store: new FetchedBlockStore([read], 4, storeDir) }));
    expect(fetched.blocks[0][0]).toBeInstanceOf(Uint8Array); // "m0p1" fits the 4 bytes
    expect(fetched.blocks[0][1]).toEqual({ path: join(storeDir, "fetched-blocks"), offset: 0, length: 5 });
    expect(readdirSync(storeDir)).toEqual(["fetched-blocks"]);
    expect(decoded(fetched.blocks[0])).toEqual(["m0p1", "m1p1!"]);
    expect(fetched).toMatchObject({ bytes: 9, bytesOnDisk: 5 });
  });

  it("fails at once with a fetch failure naming a missing map output, without retrying", async () => {
    const read = readOf(server.address, 3);
    const events: string[] = [];
    const failure = await expectFetchFailure(fetchShuffleBlocks(options(read, { span: recordingSpan(events) })));
    expect(failure.info.kind).toBe("fetchFailed");
    expect(failure.info.fetch).toMatchObject({ shuffleId: "job-1-sh0", mapIndex: 2, shuffleAddress: server.address, serviceUnreachable: false });
    expect(events).toEqual([]);
  });

  it("retries an unreachable shuffle service with backoff, then reports it unreachable", async () => {
    const stopped = await startShuffleServer({ address: "127.0.0.1:0", dataDir: join(dir, "stopped"), nodeId: "node-b", logger });
    const address = stopped.address;
    await stopped.stop();
    const events: string[] = [];
    const delays: number[] = [];
    const started = Date.now();
    const failure = await expectFetchFailure(
      fetchShuffleBlocks(options(readOf(address, 2, "node-b"), { span: recordingSpan(events), random: () => (delays.push(1), 0.5) })),
    );
    expect(events).toEqual(["shuffle.fetch.retry", "shuffle.fetch.retry", "shuffle.fetch.retry"]);
    expect(delays).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(7 + 15 + 30 - 5); // the backoff waits were taken
    expect(failure.info.errorKind).toBe("fetch_failed");
    expect(failure.info.message).toMatch(/after 3 retries/);
    expect(failure.info.fetch).toEqual({ shuffleId: "job-1-sh0", mapIndex: 0, mapAttempt: 0, shuffleAddress: address, nodeId: "node-b", serviceUnreachable: true });
  });

  it("stops retrying when the task is killed", async () => {
    const abort = new AbortController();
    const fetching = fetchShuffleBlocks(options(readOf("127.0.0.1:1", 1), { policy: { maxRetries: 50, retryWaitMs: 50, maxRetryWaitMs: 50 }, signal: abort.signal }));
    setTimeout(() => abort.abort(new Error("killed")), 200);
    await expect(fetching).rejects.toThrow("killed");
  });
});
