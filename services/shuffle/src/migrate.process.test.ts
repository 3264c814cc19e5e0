// Migration between real shuffle service processes: A hands its outputs to B and C.
import * as grpc from "@grpc/grpc-js";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShuffleServiceClient, type WriteMapOutputRequest } from "@ballast/gen/shuffle";
import { crc32 } from "@ballast/common/crc32";
import { createClient } from "@ballast/common/grpc";
import { ShuffleClient, type MapOutputRef, type MigratedOutput, type MigrateOptions } from "@ballast/clients/shuffle";
import { eventually, freePort, kill, startService } from "./testing/processes.js";

interface Node {
  address: string;
  dataDir: string;
  process: ChildProcess;
  client: ShuffleClient;
}

const refKey = (ref: MapOutputRef) => `${ref.shuffleId}/${ref.mapIndex}.${ref.attempt}`;
const filesUnder = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);

async function startNode(name: string): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), `ballast-shuffle-${name}-`));
  const address = `127.0.0.1:${await freePort()}`;
  const process = await startService(address, dataDir, name);
  return { address, dataDir, process, client: new ShuffleClient(address) };
}

async function migrate(source: Node, peers: string[], options: Partial<Omit<MigrateOptions, "onOutput">> = {}) {
  const outputs: MigratedOutput[] = [];
  const summary = await source.client.migrateMapOutputs(peers, { epoch: 1, ...options, onOutput: (o) => outputs.push(o) });
  return { outputs: outputs.sort((a, b) => refKey(a.ref).localeCompare(refKey(b.ref))), summary };
}

describe("MigrateMapOutputs between shuffle service processes", () => {
  let a: Node, b: Node, c: Node;
  let downAddresses: string[];
  /** What A holds: the partitions of every output, by ref key. */
  const written = new Map<string, { ref: MapOutputRef; partitions: Buffer[] }>();

  async function write(ref: MapOutputRef, partitions: Buffer[]) {
    await a.client.writeMapOutput(ref, partitions);
    written.set(refKey(ref), { ref, partitions });
  }

  async function expectHeldBy(node: Node, ref: MapOutputRef) {
    const { partitions } = written.get(refKey(ref))!;
    const blocks = await node.client.fetchBlocks(partitions.map((_, partition) => ({ ref, partition })));
    expect(blocks.map((block, i) => Buffer.from(block).equals(partitions[i]!))).toEqual(partitions.map(() => true));
  }

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startNode("node-a"), startNode("node-b"), startNode("node-c")]);
    downAddresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    for (let mapIndex = 0; mapIndex < 6; mapIndex++) {
      await write({ shuffleId: "job1-sh0", mapIndex, attempt: 0 }, [randomBytes(1000 + mapIndex), Buffer.alloc(0), randomBytes(77)]);
    }
    // Several chunks per partition: streamed from the file, not buffered whole.
    await write({ shuffleId: "job1-sh0", mapIndex: 6, attempt: 1 }, [randomBytes(2_500_000), randomBytes(1_200_000)]);
    await write({ shuffleId: "job1-sh1", mapIndex: 0, attempt: 0 }, [randomBytes(500)]);
    await write({ shuffleId: "job1-sh1", mapIndex: 1, attempt: 0 }, [Buffer.from("x"), Buffer.from("yz")]);
  });
  afterAll(async () => {
    for (const node of [a, b, c]) {
      if (!node) continue;
      node.client.close();
      await kill(node.process, "SIGKILL");
      rmSync(node.dataDir, { recursive: true, force: true });
    }
  });

  it("moves every output to exactly one peer, byte for byte, and names where it went", async () => {
    const { outputs, summary } = await migrate(a, [b.address, c.address], { parallelism: 3 });
    expect(outputs.map((o) => refKey(o.ref))).toEqual([...written.keys()].sort());
    expect(outputs.every((o) => o.error === "" && [b.address, c.address].includes(o.newAddress))).toBe(true);
    for (const output of outputs) {
      const { partitions } = written.get(refKey(output.ref))!;
      expect(output.partitionSizes).toEqual(partitions.map((p) => p.length));
      expect(output.bytes).toBe(partitions.reduce((sum, p) => sum + p.length, 0));
    }
    const totalBytes = outputs.reduce((sum, o) => sum + o.bytes, 0);
    expect(summary).toMatchObject({ migrated: written.size, failed: 0, bytes: totalBytes });

    const onB = (await b.client.listMapOutputs()).map((o) => refKey(o.ref));
    const onC = (await c.client.listMapOutputs()).map((o) => refKey(o.ref));
    expect(onB.length).toBeGreaterThan(0);
    expect(onC.length).toBeGreaterThan(0);
    expect([...onB, ...onC].sort()).toEqual([...written.keys()].sort());
    for (const output of outputs) {
      expect((output.newAddress === b.address ? onB : onC)).toContain(refKey(output.ref));
      await expectHeldBy(output.newAddress === b.address ? b : c, output.ref);
    }
    // The source keeps serving its copies until the node goes.
    expect(await a.client.listMapOutputs()).toHaveLength(written.size);
  });

  it("skips a peer that is down and uses the others; the shuffle filter limits what moves", async () => {
    await b.client.removeShuffle("job1-sh1", 1);
    await c.client.removeShuffle("job1-sh1", 1);
    const { outputs, summary } = await migrate(a, [downAddresses[0]!, c.address], { shuffleIds: ["job1-sh1"] });
    expect(outputs.map((o) => [refKey(o.ref), o.newAddress, o.error])).toEqual([
      ["job1-sh1/0.0", c.address, ""],
      ["job1-sh1/1.0", c.address, ""],
    ]);
    expect(summary).toMatchObject({ migrated: 2, failed: 0 });
    for (const output of outputs) await expectHeldBy(c, output.ref);
  });

  it("reports every output as failed when all peers are down", async () => {
    const { outputs, summary } = await migrate(a, downAddresses, { shuffleIds: ["job1-sh1"] });
    expect(summary).toMatchObject({ migrated: 0, failed: 2, bytes: 0 });
    for (const output of outputs) {
      expect(output.newAddress).toBe("");
      expect(output.error).toMatch(/no peer took it/);
      for (const address of downAddresses) expect(output.error).toContain(address);
    }
  });

  it("a source file corrupted on disk is rejected by the receiver, reported, and copied nowhere", async () => {
    const ref = { shuffleId: "job1-sh2", mapIndex: 0, attempt: 0 };
    await write(ref, [Buffer.from("good partition"), Buffer.from("partition to damage")]);
    const file = join(a.dataDir, "data", "job1-sh2", "0.0.data");
    const bytes = readFileSync(file);
    bytes[20]! ^= 0xff; // inside partition 1, which starts at byte 14
    writeFileSync(file, bytes);

    const { outputs, summary } = await migrate(a, [b.address, c.address], { shuffleIds: ["job1-sh2"] });
    expect(summary).toMatchObject({ migrated: 0, failed: 1 });
    expect(outputs[0]).toMatchObject({ ref, newAddress: "", partitionSizes: [] });
    expect(outputs[0]!.error).toMatch(/DATA_LOSS: partition 1: crc mismatch/);
    for (const peer of [b, c]) {
      expect(await peer.client.listMapOutputs("job1-sh2")).toEqual([]);
      expect(filesUnder(join(peer.dataDir, "data")).some((f) => f.includes("job1-sh2") && f.endsWith(".data"))).toBe(false);
    }
  });

  it("rejects a direct write whose bytes do not match expected_crc32, leaving nothing", async () => {
    const raw = createClient(ShuffleServiceClient, b.address);
    const ref = { shuffleId: "job9-sh0", mapIndex: 0, attempt: 0 };
    const send = (expectedCrc32: number[], data: string) =>
      new Promise<number[]>((resolve, reject) => {
        const stream = raw.writeMapOutput({ deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res.partitionSizes)));
        const messages: WriteMapOutputRequest[] = [
          { message: { $case: "header", value: { id: ref, numPartitions: 2, expectedCrc32 } } },
          { message: { $case: "chunk", value: { partition: 1, data: Buffer.from(data) } } },
          { message: { $case: "commit", value: {} } },
        ];
        for (const message of messages) stream.write(message);
        stream.end();
      });
    try {
      await expect(send([0, crc32(Buffer.from("payload"))], "pAyload")).rejects.toMatchObject({
        code: grpc.status.DATA_LOSS,
        details: expect.stringMatching(/^partition 1: crc mismatch/),
      });
      await expect(send([0], "payload")).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/expected_crc32 has 1 entries/) });
      expect(await b.client.listMapOutputs("job9-sh0")).toEqual([]);
      expect(filesUnder(join(b.dataDir, "data", "job9-sh0"))).toEqual([]);
      expect(await send([0, crc32(Buffer.from("payload"))], "payload")).toEqual([0, 7]);
    } finally {
      raw.close();
    }
  });

  it("stops when the caller cancels: the copy in flight is discarded at the peer and the source keeps serving", async () => {
    const count = 12;
    for (let mapIndex = 0; mapIndex < count; mapIndex++) await write({ shuffleId: "job2-sh0", mapIndex, attempt: 0 }, [randomBytes(2_000_000)]);
    const raw = createClient(ShuffleServiceClient, a.address);
    const stream = raw.migrateMapOutputs({ peerAddresses: [b.address], parallelism: 1, schedulerEpoch: 1, shuffleIds: ["job2-sh0"] });
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("error", () => undefined);
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.cancel();
    expect((await ended).code).toBe(grpc.status.CANCELLED);
    raw.close();
    const partials = () => filesUnder(join(b.dataDir, "data", "job2-sh0")).filter((f) => f.endsWith(".partial"));
    for (let i = 0; i < 100 && partials().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(partials()).toEqual([]);
    expect((await b.client.listMapOutputs("job2-sh0")).length).toBeLessThan(count);
    expect(await a.client.listMapOutputs("job2-sh0")).toHaveLength(count);
    await a.client.removeShuffle("job2-sh0", 1);
    await b.client.removeShuffle("job2-sh0", 1);
  });

  it("rejects bad migration requests with INVALID_ARGUMENT", async () => {
    await expect(migrate(a, [])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/peer_addresses is required/) });
    await expect(migrate(a, ["no-port"])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/peer_addresses\[0\] must be HOST:PORT/) });
    await expect(migrate(a, [b.address, b.address])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/twice/) });
    await expect(migrate(a, [b.address], { shuffleIds: ["../x"] })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it("fences requests from an older scheduler epoch, durably across a crash", async () => {
    const stale = { code: grpc.status.FAILED_PRECONDITION, details: "stale scheduler epoch 3 (current 5)" };
    expect((await migrate(a, [b.address], { epoch: 5, shuffleIds: ["nothing-here"] })).summary).toMatchObject({ migrated: 0, failed: 0 });
    await expect(a.client.removeShuffle("job1-sh2", 3)).rejects.toMatchObject(stale);
    await expect(migrate(a, [b.address], { epoch: 3 })).rejects.toMatchObject(stale);
    await expect(a.client.removeShuffle("job1-sh2", 0)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT }); // epoch 0 is no bypass
    expect(await a.client.removeShuffle("job1-sh2", 5)).toBe(1);

    await kill(a.process, "SIGKILL");
    a.process = await startService(a.address, a.dataDir, "node-a");
    await eventually(() => a.client.listMapOutputs());
    await expect(a.client.removeShuffle("job1-sh1", 3)).rejects.toMatchObject(stale);
    expect(await a.client.removeShuffle("job1-sh1", 6)).toBe(2);
    await expect(a.client.removeShuffle("job1-sh1", 5)).rejects.toMatchObject({ details: "stale scheduler epoch 5 (current 6)" });
  });
});
