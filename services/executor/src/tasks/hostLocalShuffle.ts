/**
 * The node's own shuffle service, reached through its files when this executor shares its file
 * system, as Spark's executors write their shuffle files themselves and read host-local blocks
 * from disk: a map output is written and fsynced into the service's staging directory and the
 * service adopts it (moves it into place, indexes it), and a block is read from its data file
 * with one read and checked against its CRC-32. Streaming every byte through gRPC cost the two
 * processes about as much CPU as the sort's tasks themselves. Whenever the files are out of reach
 * (another container, a store without host-local access, a read that fails or does not match),
 * the gRPC streams carry the bytes as before, so failures are reported exactly as they were.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { collectBlocks, type BlockLocation, type LocalStoreDescription, type ShuffleClient } from "@ballast/clients/shuffle";
import { crc32 } from "@ballast/common/crc32";
import { describeError, isServiceError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { writeFullyAt } from "./fileWrites.js";
import type { MapOutputRef, ShufflePeer } from "./peers.js";

type BlockRequest = { ref: MapOutputRef; partition: number };
/** After a failed attempt to learn or use the store (the service down, a write refused), check it again this much later. */
const RETRY_DESCRIBE_MS = 30_000;

export class HostLocalShuffle implements ShufflePeer {
  private store: LocalStoreDescription | "remote" | undefined;
  private describeAfterMs = 0;
  private staged = 0;

  constructor(
    private readonly client: ShuffleClient,
    private readonly logger: Logger,
  ) {}

  get address(): string {
    return this.client.address;
  }

  async writeMapOutput(ref: MapOutputRef, partitions: Uint8Array[]): Promise<number[]> {
    const local = await this.localStore();
    if (local) {
      try {
        return await this.writeStaged(local, ref, partitions);
      } catch (err) {
        // Streamed until the store is checked again: a failure that repeats costs one attempt a while.
        this.store = undefined;
        this.describeAfterMs = Date.now() + RETRY_DESCRIBE_MS;
        this.logger.warn({ ...ref, err: describeError(err) }, "host-local map output write failed; streaming it to the shuffle service");
      }
    }
    return this.client.writeMapOutput(ref, partitions);
  }

  fetchBlocks(blocks: BlockRequest[], deadlineMs?: number): Promise<Uint8Array[]> {
    return collectBlocks(this, blocks, deadlineMs);
  }

  /** Blocks read from their files, in order, until one cannot be; that one and the rest come over gRPC. */
  async streamBlocks(blocks: BlockRequest[], onBlock: (index: number, block: Uint8Array) => void | Promise<void>, deadlineMs?: number): Promise<void> {
    let next = 0;
    const local = blocks.length > 0 ? await this.localStore() : undefined;
    const located = local && (await this.client.locateBlocks(blocks).catch(() => undefined));
    const locations = located?.length === blocks.length ? located : undefined;
    while (local && locations && next < blocks.length) {
      const block = await readLocated(local, locations[next]!);
      if (!block) break;
      await onBlock(next, block);
      next++;
    }
    if (next === blocks.length) return;
    const from = next;
    await this.client.streamBlocks(blocks.slice(from), (index, block) => onBlock(index + from, block), deadlineMs);
  }

  listMapOutputs(shuffleId?: string): Promise<Array<{ ref: MapOutputRef; partitionSizes: number[] }>> {
    return this.client.listMapOutputs(shuffleId);
  }

  close(): void {
    this.client.close();
  }

  /** The service's store when its token file reads the same here (a shared file system), else undefined. */
  private async localStore(): Promise<LocalStoreDescription | undefined> {
    if (this.store === undefined && Date.now() >= this.describeAfterMs) {
      try {
        const description = await this.client.describeLocalStore();
        this.store = readToken(description.tokenFile) === description.token && canStage(description.stagingDir) ? description : "remote";
        this.logger.info({ shared: this.store !== "remote", dataDir: description.dataDir }, "node shuffle service: host-local file access checked");
      } catch (err) {
        // A store without host-local access stays remote; a service that did not answer is asked again later.
        if (isServiceError(err) && (err.code === status.FAILED_PRECONDITION || err.code === status.UNIMPLEMENTED)) this.store = "remote";
        else this.describeAfterMs = Date.now() + RETRY_DESCRIBE_MS;
      }
    }
    return this.store === "remote" ? undefined : this.store;
  }

  private async writeStaged(local: LocalStoreDescription, ref: MapOutputRef, partitions: Uint8Array[]): Promise<number[]> {
    const name = `${process.pid}-${++this.staged}-${ref.mapIndex}.${ref.attempt}.partial`;
    const path = join(local.stagingDir, name);
    try {
      const handle = await open(path, "wx");
      try {
        let position = 0;
        for (const partition of partitions) {
          await writeFullyAt(handle, partition, position);
          position += partition.byteLength;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      return await this.client.adoptMapOutput(ref, name, partitions.map((p) => p.length), partitions.map((p) => crc32(p)));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
  }
}

/** Whether this process may create files in the staging directory (another user's service may not let it). */
function canStage(stagingDir: string): boolean {
  const probe = join(stagingDir, `${process.pid}-probe.partial`);
  try {
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
    return true;
  } catch {
    return false;
  }
}

function readToken(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The block's bytes from its data file, or undefined when they cannot be read whole or do not match its CRC-32. */
async function readLocated(local: LocalStoreDescription, location: BlockLocation): Promise<Uint8Array | undefined> {
  if (location.path.split("/").includes("..")) return undefined;
  const block = Buffer.allocUnsafe(location.size);
  try {
    const handle = await open(join(local.dataDir, location.path), "r");
    try {
      for (let done = 0; done < block.length; ) {
        const { bytesRead } = await handle.read(block, done, block.length - done, location.offset + done);
        if (bytesRead === 0) return undefined;
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
  } catch {
    return undefined; // replaced or removed meanwhile: the service answers for it
  }
  return crc32(block) === location.crc32 ? block : undefined;
}
