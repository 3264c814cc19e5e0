import { status, type ClientWritableStream } from "@grpc/grpc-js";
import { once } from "node:events";
import {
  ShuffleServiceClient,
  type BlockLocation,
  type DescribeLocalStoreResponse,
  type MigrateMapOutputsRequest,
  type MigrateMapOutputsResponse,
  type WriteMapOutputRequest,
} from "@ballast/gen/shuffle";
import { crc32 } from "@ballast/common/crc32";
import { describeError, isServiceError } from "@ballast/common/errors";
import { call, CHUNK_BYTES, createClient } from "@ballast/common/grpc";
import { encodeWriteChunk, ShuffleServiceClientWithChunks } from "./writeChunks.js";

export interface MapOutputRef {
  shuffleId: string;
  mapIndex: number;
  attempt: number;
}

/** unreachable: the service is down or too slow; missing: it has no such output; corrupt: bytes failed their checks. */
export type FetchErrorKind = "unreachable" | "missing" | "corrupt";

export class ShuffleFetchError extends Error {
  constructor(
    readonly kind: FetchErrorKind,
    readonly address: string,
    readonly ref: MapOutputRef,
    readonly partition: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`fetching ${ref.shuffleId}/${ref.mapIndex}.${ref.attempt} partition ${partition} from ${address}: ${kind}: ${detail}`, options);
    this.name = "ShuffleFetchError";
  }
}

export interface BlockRequest {
  ref: MapOutputRef;
  partition: number;
}

export interface MapOutputListing {
  ref: MapOutputRef;
  partitionSizes: number[];
  committedAtMs: number;
}

/** One piece of a map output being written: bytes of `partition` (partitions in ascending order). */
export interface WriteChunk {
  partition: number;
  data: Uint8Array;
}

export interface WriteOptions {
  deadlineMs?: number;
  /** The CRC-32 of each partition, checked by the service before it commits (one per partition, or none). */
  expectedCrc32?: number[];
  /** Aborting cancels the write. */
  signal?: AbortSignal;
}

/** One output of a migration: where it went, or why it could not move (newAddress empty, error set). */
export interface MigratedOutput {
  ref: MapOutputRef;
  newAddress: string;
  bytes: number;
  partitionSizes: number[];
  error: string;
}

export interface MigrateOptions {
  /** Outputs copied at once (default 4, at most 16). */
  parallelism?: number;
  /** The caller's scheduler epoch (>= 1); one below the highest the service has seen is refused. */
  epoch: number;
  /** Only these shuffles (default: every output on the service). */
  shuffleIds?: string[];
  onOutput(output: MigratedOutput): void;
  deadlineMs?: number;
}

export interface MigrationSummary {
  migrated: number;
  failed: number;
  bytes: number;
  durationMs: number;
}

const DEFAULT_FETCH_DEADLINE_MS = 30_000;
const DEFAULT_MIGRATE_DEADLINE_MS = 30 * 60_000;
const DEFAULT_WRITE_DEADLINE_MS = 120_000;
const DEFAULT_UNARY_DEADLINE_MS = 10_000;

/** Codes that mean the service (not the block) is the problem. Everything but these and caller bugs. */
const CALLER_BUG_CODES = new Set<number>([status.INVALID_ARGUMENT, status.OUT_OF_RANGE]);

/** The executor's client for one node's shuffle service. Fetches make one attempt; the caller owns retries. */
/** Host-local shuffle: where the service's files are, for an executor sharing its file system (see DescribeLocalStore). */
export type LocalStoreDescription = DescribeLocalStoreResponse;
export type { BlockLocation };

export class ShuffleClient {
  readonly address: string;
  private readonly client: ShuffleServiceClient;

  constructor(address: string) {
    this.address = address;
    this.client = createClient(ShuffleServiceClientWithChunks, address);
  }

  /** Streams the partitions (index = reduce partition), commits; returns sizes per partition. */
  writeMapOutput(ref: MapOutputRef, partitions: Uint8Array[], deadlineMs = DEFAULT_WRITE_DEADLINE_MS): Promise<number[]> {
    return this.writeMapOutputChunks(ref, partitions.length, chunksOf(partitions), { deadlineMs });
  }

  /**
   * Streams a map output from `chunks` (partitions ascending, each chunk at
   * most CHUNK_BYTES), then commits; returns sizes per partition. With
   * expectedCrc32 the service rejects the commit (DATA_LOSS) unless every
   * partition matches. A chunk source that throws, or `signal` aborting,
   * cancels the write (the service keeps nothing) and rejects with that error.
   */
  writeMapOutputChunks(ref: MapOutputRef, numPartitions: number, chunks: AsyncIterable<WriteChunk> | Iterable<WriteChunk>, options: WriteOptions = {}): Promise<number[]> {
    const { deadlineMs = DEFAULT_WRITE_DEADLINE_MS, expectedCrc32 = [], signal } = options;
    return new Promise((resolve, reject) => {
      let settled = false;
      let markSettled!: () => void;
      const settledSignal = new Promise<void>((done) => (markSettled = done));
      const stream = this.client.writeMapOutput({ deadline: Date.now() + deadlineMs }, (err, response) => {
        settled = true;
        markSettled();
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(response.partitionSizes);
      });
      const onAbort = () => {
        if (!settled) stream.cancel();
      };
      if (signal?.aborted) onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      const header: WriteMapOutputRequest = { message: { $case: "header", value: { id: { ...ref }, numPartitions, expectedCrc32 } } };
      sendMapOutput(stream, header, chunks, settledSignal, () => settled).catch((err) => {
        if (!settled) stream.cancel();
        reject(err);
      });
    });
  }

  /**
   * Fetches one block (ref, reduce partition) and verifies its size and CRC-32.
   * NOT_FOUND -> "missing", DATA_LOSS or a failed check -> "corrupt",
   * UNAVAILABLE/DEADLINE_EXCEEDED/refused and other service failures -> "unreachable";
   * INVALID_ARGUMENT (a caller bug) is rethrown as the gRPC error.
   */
  async fetchBlock(ref: MapOutputRef, partition: number, deadlineMs = DEFAULT_FETCH_DEADLINE_MS): Promise<Uint8Array> {
    const [block] = await this.fetchBlocks([{ ref, partition }], deadlineMs);
    return block!;
  }

  /** Like fetchBlock for several blocks of this service in one stream; resolves in request order. */
  fetchBlocks(blocks: BlockRequest[], deadlineMs = DEFAULT_FETCH_DEADLINE_MS): Promise<Uint8Array[]> {
    return collectBlocks(this, blocks, deadlineMs);
  }

  /**
   * Like fetchBlocks, but hands each verified block to `onBlock` (in request
   * order) as soon as it is complete, and keeps none: the stream is not read
   * further until `onBlock` resolves, so a caller that writes blocks away holds
   * one block and the stream's flow-control window, whatever the total.
   */
  async streamBlocks(blocks: BlockRequest[], onBlock: (index: number, block: Uint8Array) => void | Promise<void>, deadlineMs = DEFAULT_FETCH_DEADLINE_MS): Promise<void> {
    if (blocks.length === 0) return;
    const stream = this.client.fetchBlocks(
      { blocks: blocks.map((b) => ({ mapOutput: { ...b.ref }, partition: b.partition })) },
      { deadline: Date.now() + deadlineMs },
    );
    const assembler = new BlockAssembler(blocks.length);
    let callerFailed = false; // the caller's own failure (a full disk) is not the service's fault
    try {
      for await (const response of stream) {
        const block = assembler.add(response.blockIndex, response.data, response.last, response.size, response.crc32);
        if (!block) continue;
        try {
          await onBlock(assembler.current - 1, block);
        } catch (err) {
          callerFailed = true;
          throw err;
        }
      }
      assembler.finish();
    } catch (err) {
      stream.cancel();
      if (callerFailed) throw err;
      throw this.fetchErrorOf(err, blocks[Math.min(assembler.current, blocks.length - 1)]!);
    }
  }

  /** The service's store directories and token; FAILED_PRECONDITION when its store offers no host-local access. */
  describeLocalStore(): Promise<LocalStoreDescription> {
    return call(this.client.describeLocalStore.bind(this.client), {}, DEFAULT_UNARY_DEADLINE_MS);
  }

  /** Commits a map output the caller wrote and fsynced as `stagedName` in the staging directory; returns sizes per partition. */
  async adoptMapOutput(ref: MapOutputRef, stagedName: string, sizes: number[], crcs: number[]): Promise<number[]> {
    const request = { id: { ...ref }, stagedName, partitionSizes: sizes, partitionCrc32: crcs };
    return (await call(this.client.adoptMapOutput.bind(this.client), request, DEFAULT_WRITE_DEADLINE_MS)).partitionSizes;
  }

  /** Where the blocks lie in the service's data files, in request order (NOT_FOUND for an unknown output). */
  async locateBlocks(blocks: BlockRequest[]): Promise<BlockLocation[]> {
    const request = { blocks: blocks.map((b) => ({ mapOutput: { ...b.ref }, partition: b.partition })) };
    return (await call(this.client.locateBlocks.bind(this.client), request, DEFAULT_UNARY_DEADLINE_MS)).locations;
  }

  async listMapOutputs(shuffleId?: string): Promise<MapOutputListing[]> {
    const response = await call(this.client.listMapOutputs.bind(this.client), { shuffleId: shuffleId ?? "" }, DEFAULT_UNARY_DEADLINE_MS);
    return response.outputs.map((output) => ({
      ref: { shuffleId: output.id?.shuffleId ?? "", mapIndex: output.id?.mapIndex ?? 0, attempt: output.id?.attempt ?? 0 },
      partitionSizes: output.partitionSizes,
      committedAtMs: output.committedAtMs,
    }));
  }

  /**
   * Deletes a shuffle's outputs on this service; returns how many there were.
   * An `epoch` lower than the highest the service has seen is refused
   * (FAILED_PRECONDITION): a deposed scheduler must not delete data; 0 names
   * no epoch and is refused too (INVALID_ARGUMENT).
   */
  async removeShuffle(shuffleId: string, epoch: number): Promise<number> {
    return (await call(this.client.removeShuffle.bind(this.client), { shuffleId, schedulerEpoch: epoch }, DEFAULT_UNARY_DEADLINE_MS)).removed;
  }

  /**
   * Asks this service to copy its committed map outputs (all, or those of
   * `shuffleIds`) to `peers`; `onOutput` sees each as it lands (newAddress
   * set) or fails on every peer (error set, newAddress empty). Resolves with
   * the totals when every output is done; rejects on a gRPC error (e.g.
   * FAILED_PRECONDITION for a stale epoch, INVALID_ARGUMENT for bad peers).
   */
  async migrateMapOutputs(peers: string[], options: MigrateOptions): Promise<MigrationSummary> {
    const started = Date.now();
    const request: MigrateMapOutputsRequest = {
      peerAddresses: peers,
      parallelism: options.parallelism ?? 0,
      schedulerEpoch: options.epoch,
      shuffleIds: options.shuffleIds ?? [],
    };
    const stream = this.client.migrateMapOutputs(request, { deadline: Date.now() + (options.deadlineMs ?? DEFAULT_MIGRATE_DEADLINE_MS) });
    const summary: MigrationSummary = { migrated: 0, failed: 0, bytes: 0, durationMs: 0 };
    try {
      for await (const response of stream as AsyncIterable<MigrateMapOutputsResponse>) {
        const output = migratedOutputOf(response);
        if (output.newAddress) {
          summary.migrated++;
          summary.bytes += output.bytes;
        } else summary.failed++;
        options.onOutput(output);
      }
    } catch (err) {
      stream.cancel();
      throw err;
    }
    summary.durationMs = Date.now() - started;
    return summary;
  }

  close(): void {
    this.client.close();
  }

  private fetchErrorOf(err: unknown, block: BlockRequest): unknown {
    if (err instanceof CorruptStreamError) return new ShuffleFetchError("corrupt", this.address, block.ref, block.partition, err.message);
    if (!isServiceError(err) || CALLER_BUG_CODES.has(err.code)) return err;
    const kind: FetchErrorKind = err.code === status.NOT_FOUND ? "missing" : err.code === status.DATA_LOSS ? "corrupt" : "unreachable";
    return new ShuffleFetchError(kind, this.address, block.ref, block.partition, describeError(err), { cause: err });
  }
}

/** The partitions of an in-memory map output as chunks of at most CHUNK_BYTES (empty partitions skipped). */
function* chunksOf(partitions: Uint8Array[]): Iterable<WriteChunk> {
  for (const [partition, data] of partitions.entries()) {
    for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) yield { partition, data: data.subarray(offset, offset + CHUNK_BYTES) };
  }
}

/** Sends header, chunks, commit, waiting for 'drain' when the stream is full; stops early once the call has ended. */
/** fetchBlocks by way of a peer's streamBlocks: every block, in request order. */
export async function collectBlocks(
  peer: Pick<ShuffleClient, "streamBlocks">,
  blocks: BlockRequest[],
  deadlineMs?: number,
): Promise<Uint8Array[]> {
  const fetched: Uint8Array[] = [];
  await peer.streamBlocks(blocks, (_index, block) => void fetched.push(block), deadlineMs);
  return fetched;
}

async function sendMapOutput(
  stream: ClientWritableStream<WriteMapOutputRequest>,
  header: WriteMapOutputRequest,
  chunks: AsyncIterable<WriteChunk> | Iterable<WriteChunk>,
  settled: Promise<void>,
  isSettled: () => boolean,
): Promise<void> {
  const send = async (request: WriteMapOutputRequest) => {
    if (!stream.write(request)) await Promise.race([once(stream, "drain"), settled]);
  };
  await send(header);
  for await (const { partition, data } of chunks) {
    if (isSettled()) return;
    await send(encodeWriteChunk(partition, data) as unknown as WriteMapOutputRequest); // the client's serializer passes it through
  }
  if (isSettled()) return;
  await send({ message: { $case: "commit", value: {} } });
  stream.end();
}

function migratedOutputOf(response: MigrateMapOutputsResponse): MigratedOutput {
  return {
    ref: { shuffleId: response.id?.shuffleId ?? "", mapIndex: response.id?.mapIndex ?? 0, attempt: response.id?.attempt ?? 0 },
    newAddress: response.newAddress,
    bytes: response.bytes,
    partitionSizes: response.partitionSizes,
    error: response.error,
  };
}

/** The stream broke the FetchBlocks contract: wrong order, wrong size or a CRC mismatch. */
class CorruptStreamError extends Error {}

/** Puts FetchBlocks chunks back together and checks every block against its size and CRC-32. */
class BlockAssembler {
  /** Blocks completed so far (the index of the one being assembled). */
  current = 0;
  private pieces: Uint8Array[] = [];
  private received = 0;
  private crc = 0;

  constructor(private readonly expected: number) {}

  /** Adds a chunk; returns the block it completes, verified, if it is the block's last. */
  add(blockIndex: number, data: Uint8Array, last: boolean, size: number, crc: number): Uint8Array | undefined {
    if (blockIndex !== this.current) throw new CorruptStreamError(`got a chunk of block ${blockIndex} while block ${this.current} was incomplete`);
    this.pieces.push(data);
    this.received += data.length;
    this.crc = crc32(data, this.crc);
    if (!last) return undefined;
    if (this.received !== size) throw new CorruptStreamError(`received ${this.received} bytes, the block has ${size}`);
    if (this.crc !== crc) throw new CorruptStreamError(`CRC-32 mismatch: computed ${hex(this.crc)}, stored ${hex(crc)}`);
    const block = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
    this.pieces = [];
    this.received = 0;
    this.crc = 0;
    this.current++;
    return block;
  }

  finish(): void {
    if (this.current !== this.expected) throw new CorruptStreamError(`stream ended after ${this.current} of ${this.expected} blocks`);
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}
