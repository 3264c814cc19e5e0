import type { MapOutputKey } from "../core/ids.js";
import type { PartitionEntry } from "../core/layout.js";

/** A committed map output as the index knows it. */
export interface MapOutputRecord {
  key: MapOutputKey;
  numPartitions: number;
  partitions: PartitionEntry[];
  committedAtMs: number;
}

/** One in-flight write. Nothing is visible until commit() resolves. */
export interface MapOutputWriter {
  /** Appends bytes; the caller lays partitions out back to back (see PartitionLayoutBuilder). */
  append(data: Uint8Array): Promise<void>;
  /** Makes the output durable, then visible, atomically replacing an earlier one with the same key. */
  commit(partitions: PartitionEntry[]): Promise<MapOutputRecord>;
  /** Discards what was written. Safe after a failed commit and safe to call twice. */
  abort(): Promise<void>;
}

export interface BlockChunk {
  data: Uint8Array;
  last: boolean;
  /** Set when the chunk was read into a buffer from `allocate` (see BlockReader.chunks): that buffer, `data` a view of it. */
  allocated?: Buffer;
}

/** A buffer for a chunk of `length` bytes, to be read at `offset` (the caller's room around it). */
export type ChunkAllocator = (length: number) => { buffer: Buffer; offset: number };

/** An open block: a consistent view even if the output is replaced or removed meanwhile. */
export interface BlockReader {
  readonly size: number;
  /** CRC-32 recorded at write time (not recomputed: the reader of the bytes checks it). */
  readonly crc32: number;
  /** Reads the block in chunks of at most chunkBytes (into buffers from `allocate` when given); an empty block yields one empty last chunk. */
  chunks(chunkBytes: number, allocate?: ChunkAllocator): AsyncIterable<BlockChunk>;
  close(): Promise<void>;
}

/** A chunk of a whole map output: bytes of one partition, partitions in ascending order. */
export interface PartitionChunk {
  partition: number;
  data: Uint8Array;
}

/** An open map output: one committed version, read whole (to copy it elsewhere). */
export interface MapOutputReader {
  /** The index row of the version that is open (its CRCs describe these bytes). */
  readonly record: MapOutputRecord;
  /** Every non-empty partition in order, in chunks of at most chunkBytes; nothing is buffered whole. */
  chunks(chunkBytes: number): AsyncIterable<PartitionChunk>;
  close(): Promise<void>;
}

/**
 * Durable storage of map outputs. The default backend is files plus a SQLite
 * index (FileMapOutputStore); another (e.g. an object store) plugs in here.
 * Errors are BallastErrors: NotFoundError for unknown outputs,
 * InvalidArgumentError for a partition out of range, DataLossError for a
 * damaged file.
 */
export interface MapOutputStore {
  beginWrite(key: MapOutputKey): Promise<MapOutputWriter>;
  get(key: MapOutputKey): Promise<MapOutputRecord | undefined>;
  openBlock(key: MapOutputKey, partition: number): Promise<BlockReader>;
  openMapOutput(key: MapOutputKey): Promise<MapOutputReader>;
  /** Every committed output, or those of one shuffle; ordered by shuffle, map index, attempt. */
  list(shuffleId?: string): Promise<MapOutputRecord[]>;
  /** Deletes a shuffle's outputs (rows and files); returns how many outputs it had. */
  removeShuffle(shuffleId: string): Promise<number>;
  /**
   * Durably raises the highest scheduler epoch seen to `epoch` (never lowers
   * it) and returns the highest seen before, atomically, for fencing.
   */
  raiseSchedulerEpoch(epoch: number): Promise<number>;
  close(): Promise<void>;
  /** Present when executors sharing the store's file system may write and read its files directly. */
  readonly hostLocal?: HostLocalAccess;
}

/** Where an executor on the same file system stages outputs and finds blocks, and the token that proves it shares it. */
export interface LocalStoreDescription {
  dataDir: string;
  stagingDir: string;
  token: string;
  tokenFile: string;
}

/** A committed block's place in its data file (path relative to the data directory). */
export interface BlockLocation {
  path: string;
  offset: number;
  size: number;
  crc32: number;
}

/** Host-local shuffle: executors write map outputs as files themselves and read blocks from the files. */
export interface HostLocalAccess {
  describe(): LocalStoreDescription;
  /**
   * Commits a file the caller wrote and fsynced in the staging directory, holding `sizes` bytes
   * per partition back to back with these CRC-32s, as a commit of beginWrite would.
   */
  adopt(key: MapOutputKey, stagedName: string, sizes: number[], crcs: number[]): Promise<MapOutputRecord>;
  /** Where a committed block lies; NotFoundError / InvalidArgumentError as openBlock. */
  locate(key: MapOutputKey, partition: number): BlockLocation;
}
