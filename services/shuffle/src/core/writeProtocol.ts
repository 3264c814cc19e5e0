import { DataLossError, InvalidArgumentError } from "@ballast/common/errors";
import { describeMapOutput, validateMapOutputKey, validateNumPartitions, type MapOutputKey } from "./ids.js";
import { PartitionLayoutBuilder, type PartitionEntry } from "./layout.js";

/** A WriteMapOutput stream message, translated from the wire. */
export type WriteMessage =
  | { kind: "header"; key: Partial<MapOutputKey> | undefined; numPartitions: number; expectedCrc32?: number[] }
  | { kind: "chunk"; partition: number; data: Uint8Array }
  | { kind: "commit" }
  | { kind: "empty" };

export interface WriteHeader {
  key: MapOutputKey;
  numPartitions: number;
  /** The sender's CRC-32 per partition (a migration), or empty: then nothing is checked. */
  expectedCrc32: number[];
}

/**
 * The rules of a WriteMapOutput stream: exactly one header first, then
 * chunks in non-decreasing partition order, then one commit, then the end of
 * the stream. Each accepted message tells the caller what to do with it.
 */
export class WriteProtocol {
  private header: WriteHeader | undefined;
  private layout: PartitionLayoutBuilder | undefined;
  private committed = false;

  accept(message: WriteMessage): { action: "begin"; header: WriteHeader } | { action: "append"; partition: number; data: Uint8Array } | { action: "none" } {
    if (this.committed) throw new InvalidArgumentError(`no message may follow commit, got ${message.kind}`);
    switch (message.kind) {
      case "header": {
        if (this.header) throw new InvalidArgumentError("header sent twice: a stream writes one map output");
        const numPartitions = validateNumPartitions(message.numPartitions);
        const header = { key: validateMapOutputKey(message.key), numPartitions, expectedCrc32: validateExpectedCrcs(message.expectedCrc32 ?? [], numPartitions) };
        this.header = header;
        this.layout = new PartitionLayoutBuilder(header.numPartitions);
        return { action: "begin", header };
      }
      case "chunk":
        this.requireLayout("chunk").add(message.partition, message.data);
        return { action: "append", partition: message.partition, data: message.data };
      case "commit":
        this.requireLayout("commit");
        this.committed = true;
        return { action: "none" };
      case "empty":
        throw new InvalidArgumentError("a WriteMapOutput message must set header, chunk or commit");
    }
  }

  /**
   * At the end of the stream: the layout to commit, or an error when the
   * commit never came or (DataLossError) a partition's bytes do not match the
   * CRC-32 the sender expected.
   */
  finish(): { header: WriteHeader; partitions: PartitionEntry[] } {
    if (!this.header || !this.layout) throw new InvalidArgumentError("stream ended before the header: nothing written");
    if (!this.committed) throw new InvalidArgumentError("stream ended before commit: nothing written");
    const partitions = this.layout.entries();
    checkExpectedCrcs(this.header, partitions);
    return { header: this.header, partitions };
  }

  private requireLayout(kind: string): PartitionLayoutBuilder {
    if (!this.layout) throw new InvalidArgumentError(`${kind} before header: the header must come first`);
    return this.layout;
  }
}

function validateExpectedCrcs(expected: number[], numPartitions: number): number[] {
  if (expected.length === 0) return expected;
  if (expected.length !== numPartitions) {
    throw new InvalidArgumentError(`expected_crc32 has ${expected.length} entries but num_partitions is ${numPartitions}: send one per partition or none`);
  }
  return expected;
}

function checkExpectedCrcs(header: WriteHeader, partitions: PartitionEntry[]): void {
  for (const [partition, expected] of header.expectedCrc32.entries()) {
    const received = partitions[partition]!.crc32;
    if (received !== expected) {
      throw new DataLossError(
        `partition ${partition}: crc mismatch: the sender expected ${hex(expected)}, the received bytes have ${hex(received)} (${describeMapOutput(header.key)}): nothing written`,
      );
    }
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}
