/**
 * The parts of the staging and shuffle clients the executor uses. The real
 * StagingClient (services/staging/src/client.ts) and ShuffleClient
 * (services/shuffle/src/client.ts) satisfy them; tests may pass doubles.
 */
export interface MapOutputRef {
  shuffleId: string;
  mapIndex: number;
  attempt: number;
}

export interface BlobInfoLike {
  name: string;
  sha256: string;
  size: number;
}

export type BlobRefLike = { name: string } | { sha256: string };

export interface StagingPeer {
  stat(ref: BlobRefLike): Promise<BlobInfoLike>;
  downloadToFile(ref: BlobRefLike, destPath: string): Promise<BlobInfoLike>;
  uploadBytes(data: Uint8Array, name?: string): Promise<BlobInfoLike>;
  link(name: string, sha256: string): Promise<BlobInfoLike>;
}

export interface ShufflePeer {
  readonly address: string;
  writeMapOutput(ref: MapOutputRef, partitions: Uint8Array[]): Promise<number[]>;
  fetchBlocks(blocks: Array<{ ref: MapOutputRef; partition: number }>, deadlineMs?: number): Promise<Uint8Array[]>;
  /** Every map output the service holds (of one shuffle when `shuffleId` is given). */
  listMapOutputs(shuffleId?: string): Promise<Array<{ ref: MapOutputRef; partitionSizes: number[] }>>;
  streamBlocks(blocks: Array<{ ref: MapOutputRef; partition: number }>, onBlock: (index: number, block: Uint8Array) => void | Promise<void>, deadlineMs?: number): Promise<void>;
  close(): void;
}
