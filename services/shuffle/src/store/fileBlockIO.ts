import type { FileHandle } from "node:fs/promises";
import { rm } from "node:fs/promises";
import { DataLossError, FailedPreconditionError, InvalidArgumentError } from "@ballast/common/errors";
import { chunkRanges, type PartitionEntry } from "../core/layout.js";
import type { BlockChunk, BlockReader, ChunkAllocator, MapOutputReader, MapOutputRecord, MapOutputWriter, PartitionChunk } from "./mapOutputStore.js";

/** Writes into a uniquely named .partial file; `publish` moves it into place and indexes it. */
export class PartialFileWriter implements MapOutputWriter {
  private written = 0;
  private state: "open" | "committed" | "aborted" = "open";

  constructor(
    private readonly handle: FileHandle,
    readonly partialPath: string,
    private readonly publish: (partialPath: string, partitions: PartitionEntry[]) => MapOutputRecord,
  ) {}

  async append(data: Uint8Array): Promise<void> {
    this.requireOpen("append");
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, this.written + done);
      done += bytesWritten;
    }
    this.written += data.length;
  }

  async commit(partitions: PartitionEntry[]): Promise<MapOutputRecord> {
    this.requireOpen("commit");
    checkLayoutCoversBytes(partitions, this.written);
    this.state = "committed";
    try {
      await this.handle.sync();
      await this.handle.close();
      // Synchronous from here on, so no reader can see a half-replaced output.
      return this.publish(this.partialPath, partitions);
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    await this.discard();
  }

  private async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.partialPath, { force: true });
  }

  private requireOpen(what: string): void {
    if (this.state !== "open") throw new FailedPreconditionError(`cannot ${what}: the write was already ${this.state}`);
  }
}

function checkLayoutCoversBytes(partitions: PartitionEntry[], written: number): void {
  let expectedOffset = 0;
  for (const [partition, entry] of partitions.entries()) {
    if (entry.offset !== expectedOffset) {
      throw new InvalidArgumentError(`partition ${partition} starts at ${entry.offset}, expected ${expectedOffset}: partitions must be back to back`);
    }
    expectedOffset += entry.size;
  }
  if (expectedOffset !== written) {
    throw new InvalidArgumentError(`the partitions cover ${expectedOffset} bytes but ${written} were written`);
  }
}

/** Reads one block's byte range from an already open data file, a chunk at a time. */
export class FileBlockReader implements BlockReader {
  readonly size: number;
  readonly crc32: number;

  constructor(
    private readonly handle: FileHandle,
    private readonly entry: PartitionEntry,
    private readonly description: string,
  ) {
    this.size = entry.size;
    this.crc32 = entry.crc32;
  }

  async *chunks(chunkBytes: number, allocate?: ChunkAllocator): AsyncIterable<BlockChunk> {
    for (const range of chunkRanges(this.entry.offset, this.entry.size, chunkBytes)) {
      const into = allocate?.(range.length);
      const data = await readFully(this.handle, range.offset, range.length, this.description, into);
      yield { data, last: range.last, ...(into && { allocated: into.buffer }) };
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Reads a whole map output from one open data file, partition after partition. */
export class FileMapOutputReader implements MapOutputReader {
  constructor(
    private readonly handle: FileHandle,
    readonly record: MapOutputRecord,
    private readonly description: string,
  ) {}

  async *chunks(chunkBytes: number): AsyncIterable<PartitionChunk> {
    for (const [partition, entry] of this.record.partitions.entries()) {
      if (entry.size === 0) continue;
      for (const range of chunkRanges(entry.offset, entry.size, chunkBytes)) {
        yield { partition, data: await readFully(this.handle, range.offset, range.length, this.description) };
      }
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Reads `length` bytes at `position` into `into.buffer` at `into.offset` (a fresh buffer by default); returns a view of them. */
async function readFully(
  handle: FileHandle,
  position: number,
  length: number,
  description: string,
  into: { buffer: Buffer; offset: number } = { buffer: Buffer.allocUnsafe(length), offset: 0 },
): Promise<Uint8Array> {
  const { buffer, offset } = into;
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done);
    if (bytesRead === 0) throw new DataLossError(`${description}: data file is truncated at byte ${position + done}`);
    done += bytesRead;
  }
  return buffer.subarray(offset, offset + length);
}
