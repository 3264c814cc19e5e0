/**
 * Map side of a shuffle: route [key, value] records to reduce partitions by
 * key hash and encode each partition's records as packed msgpack arrays
 * (several arrays per block when there are many records).
 */
import type { ShuffleWriter, Sink } from "../graph.js";
import { concatChunks, packRecords } from "./codec.js";
import { KeyedMap, partitionOf } from "./keys.js";

/**
 * Records buffered per reduce partition before they are packed. Small enough that buffered
 * records die young (8192 kept ~65k records alive across 8 partitions, promoted and
 * collected by the old generation: a sort map task took ~35% longer), large enough that
 * msgpackr's per-call setup stays negligible.
 */
const RECORDS_PER_CHUNK = 1024;

export function expectPair(record: unknown, op: string): readonly [unknown, unknown] {
  if (!Array.isArray(record) || record.length !== 2) {
    throw new TypeError(`${op} needs [key, value] pairs, got ${describe(record)}`);
  }
  return record as unknown as readonly [unknown, unknown];
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value).slice(0, 40)}`;
}

/** Writes pairs as they come (no combine). */
export class PartitionedWriter implements ShuffleWriter {
  private readonly buffered: unknown[][];
  private readonly chunks: Uint8Array[][];
  private records = 0;

  constructor(
    private readonly numPartitions: number,
    private readonly op: string,
    /** Which reduce partition a key goes to: by hash unless a range partitioner is given. */
    private readonly route: (key: unknown, numPartitions: number) => number = partitionOf,
  ) {
    this.buffered = Array.from({ length: numPartitions }, () => []);
    this.chunks = Array.from({ length: numPartitions }, () => []);
  }

  add: Sink = (record) => {
    const pair = expectPair(record, this.op);
    this.addPair(pair[0], pair);
  };

  /** `pair` must be [key, value]; kept by reference until packed. */
  addPair(key: unknown, pair: readonly [unknown, unknown]): void {
    this.addTo(this.route(key, this.numPartitions), pair);
  }

  /** Any record, to a partition the caller chose (repartition spreads records round-robin). */
  addTo(partition: number, record: unknown): void {
    const buffer = this.buffered[partition]!;
    buffer.push(record);
    this.records++;
    if (buffer.length >= RECORDS_PER_CHUNK) this.flush(partition);
  }

  private flush(partition: number): void {
    this.chunks[partition]!.push(packRecords(this.buffered[partition]!));
    this.buffered[partition] = [];
  }

  finish(): { partitions: Uint8Array[]; recordsOut: number } {
    const partitions = this.chunks.map((chunks, partition) => {
      if (this.buffered[partition]!.length > 0) chunks.push(packRecords(this.buffered[partition]!));
      return concatChunks(chunks);
    });
    return { partitions, recordsOut: this.records };
  }
}

/**
 * Distinct keys a map task combines in memory before it writes their values out and starts over:
 * the reduce side merges partial values of a key anyway, so this bounds the map side's memory
 * (some 50 MB of small keys) at the cost of less combining for inputs of very many keys.
 */
export const MAX_COMBINED_KEYS = 1 << 18;

/** Combines values per key in memory before writing (reduceByKey, aggregateByKey, distinct). */
export class CombiningWriter<V, C> implements ShuffleWriter {
  private combined = new KeyedMap<C>();
  private readonly writer: PartitionedWriter;

  constructor(
    numPartitions: number,
    private readonly op: string,
    private readonly create: (value: V) => C,
    private readonly mergeValue: (combined: C, value: V) => C,
    /** Picks key and value from a record; default: the record is a pair. */
    private readonly split: (record: unknown, op: string) => readonly [unknown, unknown] = expectPair,
  ) {
    this.writer = new PartitionedWriter(numPartitions, op);
  }

  add: Sink = (record) => {
    const pair = this.split(record, this.op);
    this.combined.merge(pair[0], pair[1] as V, this.create, this.mergeValue);
    if (this.combined.size >= MAX_COMBINED_KEYS) this.writeCombined();
  };

  finish(): { partitions: Uint8Array[]; recordsOut: number } {
    this.writeCombined();
    return this.writer.finish();
  }

  private writeCombined(): void {
    this.combined.forEach((key, value) => this.writer.addPair(key, [key, value]));
    this.combined = new KeyedMap<C>();
  }
}
