/**
 * Sorted runs on local disk for reduce-side operators that outgrow their
 * memory budget. A run file is a sequence of [u32 length][msgpack array]
 * chunks, written and read synchronously (task code is synchronous) one
 * chunk at a time, so reading a run back costs one chunk of memory.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { SpillSpace } from "../types.js";
import { forEachRecordIn, packRecords } from "./codec.js";

const RECORDS_PER_CHUNK = 1024;
const HEADER_BYTES = 4;

/** Files of one operator under the task's spill dir; remove() deletes them all. */
export class SpillRuns {
  private static nextId = 0;
  private readonly dir: string;
  private readonly paths: string[] = [];
  private created = false;

  constructor(private readonly space: SpillSpace) {
    // One task may run several spilling operators (a join's two sides): each gets its own subdir.
    this.dir = join(space.dir, `op-${SpillRuns.nextId++}`);
  }

  get count(): number {
    return this.paths.length;
  }

  /** Writes records (already in run order) as a new run. */
  write(records: readonly unknown[]): void {
    // Not recursive: once the host has removed the task's dir (a killed task), a still-running write fails instead of recreating it.
    if (!this.created) mkdirSync(this.dir);
    this.created = true;
    const path = join(this.dir, `run-${this.paths.length}`);
    const fd = openSync(path, "w");
    let bytes = 0;
    try {
      for (let start = 0; start < records.length; start += RECORDS_PER_CHUNK) {
        const chunk = packRecords(records.slice(start, start + RECORDS_PER_CHUNK));
        const header = Buffer.alloc(HEADER_BYTES);
        header.writeUInt32LE(chunk.length);
        writeSync(fd, header);
        writeSync(fd, chunk);
        bytes += HEADER_BYTES + chunk.length;
      }
    } finally {
      closeSync(fd);
    }
    this.paths.push(path);
    this.space.onSpill?.(bytes);
  }

  /** Readers of every run, in the order they were written. */
  readers(): Iterator<unknown>[] {
    return this.paths.map((path) => readRun(path));
  }

  remove(): void {
    if (this.created) rmSync(this.dir, { recursive: true, force: true });
    this.created = false;
    this.paths.length = 0;
  }
}

function* readRun(path: string): Generator<unknown> {
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    let position = 0;
    while (readFully(fd, header, position)) {
      const chunk = Buffer.alloc(header.readUInt32LE(0));
      if (!readFully(fd, chunk, position + HEADER_BYTES)) throw new Error(`spill run ${path} is truncated`);
      position += HEADER_BYTES + chunk.length;
      const records: unknown[] = [];
      forEachRecordIn(chunk, (record) => records.push(record));
      yield* records;
    }
  } finally {
    closeSync(fd);
  }
}

/** Fills `into` from `position`; false at a clean end of file. */
function readFully(fd: number, into: Buffer, position: number): boolean {
  let filled = 0;
  while (filled < into.length) {
    const n = readSync(fd, into, filled, into.length - filled, position + filled);
    if (n === 0) {
      if (filled === 0) return false;
      throw new Error("spill run is truncated");
    }
    filled += n;
  }
  return true;
}

/**
 * A cheap estimate of the bytes a decoded value holds on the heap: enough to
 * decide when to spill, not an exact account.
 */
export function estimateSize(value: unknown): number {
  switch (typeof value) {
    case "string":
      return 16 + value.length;
    case "number":
    case "boolean":
    case "undefined":
      return 8;
    case "bigint":
      return 24;
    case "object": {
      if (value === null) return 8;
      if (ArrayBuffer.isView(value)) return 32 + value.byteLength;
      let size = 32;
      if (Array.isArray(value)) {
        for (const element of value) size += 8 + estimateSize(element);
      } else {
        for (const [name, field] of Object.entries(value)) size += 24 + name.length + estimateSize(field);
      }
      return size;
    }
    default:
      return 16;
  }
}
