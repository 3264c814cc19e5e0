import { crc32 } from "@ballast/common/crc32";
import { InvalidArgumentError } from "@ballast/common/errors";

/** Where one reduce partition's block lives inside a map output's data file. */
export interface PartitionEntry {
  offset: number;
  size: number;
  crc32: number;
}

/**
 * Accounts for the bytes of a map output as they arrive: partitions come in
 * non-decreasing order, a partition may span several chunks, and partitions
 * never mentioned are empty. Pure bookkeeping; the bytes go elsewhere.
 */
export class PartitionLayoutBuilder {
  private readonly sizes: number[];
  private readonly crcs: number[];
  private current = -1;
  private total = 0;

  constructor(readonly numPartitions: number) {
    this.sizes = new Array<number>(numPartitions).fill(0);
    this.crcs = new Array<number>(numPartitions).fill(0);
  }

  /** Records a chunk; throws InvalidArgumentError when it breaks the order or range rules. */
  add(partition: number, data: Uint8Array): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.numPartitions) {
      throw new InvalidArgumentError(`chunk partition ${partition} is out of range: num_partitions is ${this.numPartitions}`);
    }
    if (partition < this.current) {
      throw new InvalidArgumentError(`chunk partition ${partition} arrived after partition ${this.current}: partitions must be in ascending order`);
    }
    this.current = partition;
    this.sizes[partition]! += data.length;
    this.crcs[partition] = crc32(data, this.crcs[partition]);
    this.total += data.length;
  }

  get totalBytes(): number {
    return this.total;
  }

  /** The partitions laid out back to back in arrival order. */
  entries(): PartitionEntry[] {
    let offset = 0;
    return this.sizes.map((size, partition) => {
      const entry = { offset, size, crc32: this.crcs[partition]! };
      offset += size;
      return entry;
    });
  }
}

export interface ChunkRange {
  offset: number;
  length: number;
  last: boolean;
}

/** Splits a block into chunks of at most `chunkBytes`; an empty block is one empty, last chunk. */
export function chunkRanges(blockOffset: number, blockSize: number, chunkBytes: number): ChunkRange[] {
  if (blockSize === 0) return [{ offset: blockOffset, length: 0, last: true }];
  const ranges: ChunkRange[] = [];
  for (let done = 0; done < blockSize; done += chunkBytes) {
    const length = Math.min(chunkBytes, blockSize - done);
    ranges.push({ offset: blockOffset + done, length, last: done + length === blockSize });
  }
  return ranges;
}
