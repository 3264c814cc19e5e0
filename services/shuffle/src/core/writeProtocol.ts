import { InvalidArgumentError } from "../../../../packages/common/src/errors.js";
import { validateMapOutputKey, validateNumPartitions, type MapOutputKey } from "./ids.js";
import { PartitionLayoutBuilder, type PartitionEntry } from "./layout.js";

/** A WriteMapOutput stream message, translated from the wire. */
export type WriteMessage =
  | { kind: "header"; key: Partial<MapOutputKey> | undefined; numPartitions: number }
  | { kind: "chunk"; partition: number; data: Uint8Array }
  | { kind: "commit" }
  | { kind: "empty" };

export interface WriteHeader {
  key: MapOutputKey;
  numPartitions: number;
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
        const header = { key: validateMapOutputKey(message.key), numPartitions: validateNumPartitions(message.numPartitions) };
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

  /** At the end of the stream: the layout to commit, or an error when the commit never came. */
  finish(): { header: WriteHeader; partitions: PartitionEntry[] } {
    if (!this.header || !this.layout) throw new InvalidArgumentError("stream ended before the header: nothing written");
    if (!this.committed) throw new InvalidArgumentError("stream ended before commit: nothing written");
    return { header: this.header, partitions: this.layout.entries() };
  }

  private requireLayout(kind: string): PartitionLayoutBuilder {
    if (!this.layout) throw new InvalidArgumentError(`${kind} before header: the header must come first`);
    return this.layout;
  }
}
