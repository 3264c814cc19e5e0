/**
 * Where a reduce task's fetched shuffle blocks wait for its worker. The first
 * blocks stay in memory, up to a byte budget; the rest are appended to one
 * file in the task's spill dir as they arrive (Spark's fetch-to-disk), so a
 * partition larger than memory is never held whole: the fetch holds one block
 * per stream, and the worker reads the file back one block at a time while it
 * merges (readFetchedBlocks). The file goes with the spill dir when the task ends.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { writeFullyAt } from "./fileWrites.js";

/** A block the fetch wrote to disk: `length` bytes at `offset` of `path`. */
export interface BlockOnDisk {
  path: string;
  offset: number;
  length: number;
}

export type FetchedBlock = Uint8Array | BlockOnDisk;

/**
 * The executor's fetched blocks held in memory, across its tasks. Queued tasks fetch before a
 * worker is free, so with a deep queue each slot has several tasks holding blocks at once: the
 * executor-wide bound keeps the total to what a queue of one task per slot held (each task's own
 * eighth of its memory, two per slot); past it blocks go to the tasks' spill dirs.
 */
export class FetchMemory {
  private used = 0;

  constructor(
    readonly capacityBytes: number,
    /** Whose turn it is to fetch: the executor's tasks fetch a few at a time, in the order they came. */
    readonly turns = new FetchTurns(Infinity),
  ) {}

  /** Reserves `bytes` when they fit; false (nothing reserved) when they do not. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.capacityBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }

  get usedBytes(): number {
    return this.used;
  }
}

/**
 * Two tasks per slot, each with the in-memory share (fetchedBytesInMemory) of the largest task budget;
 * one task fetching per slot.
 */
export function executorFetchMemory(slots: number, perTaskBytes: number): FetchMemory {
  return new FetchMemory(2 * slots * perTaskBytes, new FetchTurns(slots));
}

/**
 * A first-come-first-served limit on the tasks fetching at once. Queued tasks fetch before a
 * worker is free; if all of them fetch together they share the shuffle services, and the first
 * task's blocks arrive only when nearly everyone's do (a 200 MB sort's workers sat idle for the
 * first 1.6 s of the reduce stage). Taking turns, the task at the head of the queue has its
 * blocks soonest and the next task fetches while it computes.
 */
export class FetchTurns {
  private fetching = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly concurrency: number) {}

  /** Resolves when it is the caller's turn (rejects if `signal` aborts first); call the returned function when done fetching. */
  async take(signal?: AbortSignal): Promise<() => void> {
    if (this.fetching >= this.concurrency || this.waiting.length > 0) await this.wait(signal);
    else this.fetching++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.pass();
    };
  }

  get fetchingCount(): number {
    return this.fetching;
  }

  /** Waits for `pass` to hand over a turn (the count then stays as it is: the turn changes hands). */
  private wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        reject(signal!.reason);
      };
      const granted = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiting.push(granted);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private pass(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.fetching--;
  }
}

export class FetchedBlockStore {
  /** Per shuffle index, one block per map output in map index order. */
  readonly blocks: Record<number, FetchedBlock[]> = {};
  bytes = 0;
  bytesOnDisk = 0;
  private bytesInMemory = 0;
  private file: Promise<FileHandle> | undefined;
  private readonly path: string;

  /** `dir` (the task's spill dir) must exist before a block goes to disk. */
  /** `shared`: the executor's bound across tasks, reserved from as blocks stay in memory (release gives them back). */
  constructor(reads: ReadonlyArray<{ shuffleIndex: number; numMaps: number }>, private readonly memoryBytes: number, dir: string, private readonly shared?: FetchMemory) {
    for (const read of reads) this.blocks[read.shuffleIndex] = new Array(read.numMaps);
    this.path = join(dir, "fetched-blocks");
  }

  /** Keeps a block; resolves once it is in memory or written (so the fetch reads on only then). */
  async keep(shuffleIndex: number, mapIndex: number, block: Uint8Array): Promise<void> {
    this.bytes += block.byteLength;
    if (this.bytesInMemory + block.byteLength <= this.memoryBytes && (this.shared?.tryReserve(block.byteLength) ?? true)) {
      this.bytesInMemory += block.byteLength;
      this.blocks[shuffleIndex][mapIndex] = block;
      return;
    }
    // Offsets are taken before the await: streams of several services append at once.
    const offset = this.bytesOnDisk;
    this.bytesOnDisk += block.byteLength;
    this.file ??= open(this.path, "w");
    const handle = await this.file;
    await writeFullyAt(handle, block, offset);
    this.blocks[shuffleIndex][mapIndex] = { path: this.path, offset, length: block.byteLength };
  }

  /** Waits for this task's turn to fetch (see FetchTurns); without an executor-wide bound, at once. */
  takeFetchTurn(signal?: AbortSignal): Promise<() => void> {
    return this.shared ? this.shared.turns.take(signal) : Promise.resolve(() => undefined);
  }

  /** The task is over: its in-memory blocks no longer count against the executor's bound. Idempotent. */
  release(): void {
    this.shared?.release(this.bytesInMemory);
    this.bytesInMemory = 0;
  }

  /** Closes the file (its blocks stay readable by path); safe to call more than once. */
  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    if (file) await (await file).close();
  }
}

/** The blocks in order, those on disk read when reached: one at a time in memory, for a synchronous merge. */
export function* readFetchedBlocks(blocks: readonly FetchedBlock[]): Generator<Uint8Array> {
  let fd: number | undefined;
  try {
    for (const block of blocks) {
      if (block instanceof Uint8Array) {
        yield block;
        continue;
      }
      fd ??= openSync(block.path, "r");
      yield readExactly(fd, block);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readExactly(fd: number, block: BlockOnDisk): Uint8Array {
  const bytes = new Uint8Array(block.length);
  for (let filled = 0; filled < bytes.length; ) {
    const n = readSync(fd, bytes, filled, bytes.length - filled, block.offset + filled);
    if (n === 0) throw new Error(`fetched block file ${block.path} ends before byte ${block.offset + block.length}`);
    filled += n;
  }
  return bytes;
}
