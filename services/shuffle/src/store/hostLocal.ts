/**
 * Host-local shuffle for the file store: an executor on the same file system writes a map
 * output's file into the staging directory itself (one write and an fsync, instead of streaming
 * every byte through the service) and the service adopts it as a commit would; a reducer there
 * learns where a block lies and reads it from the file. Executors that do not share the file
 * system (another container, another host) never see the token and keep to the gRPC streams.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { InvalidArgumentError, NotFoundError } from "@ballast/common/errors";
import { describeMapOutput, type MapOutputKey } from "../core/ids.js";
import type { PartitionEntry } from "../core/layout.js";
import type { BlockLocation, HostLocalAccess, LocalStoreDescription, MapOutputRecord } from "./mapOutputStore.js";

/** A staged file's name: no directories, and the suffix start-up cleaning knows. */
const STAGED_NAME = /^[A-Za-z0-9_.-]+\.partial$/;
const TOKEN_FILE = "host-local-token";
/** A writer adopts its file within its write deadline (2 minutes): one staged far longer ago was abandoned. */
const STALE_STAGED_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;

/** What the store lends host-local access: its index and its one way of publishing a file. */
export interface StoreFiles {
  readonly dataDir: string;
  readRow(key: MapOutputKey): MapOutputRecord | undefined;
  dataPath(key: MapOutputKey): string;
  ensureShuffleDir(shuffleId: string): Promise<void>;
  publish(key: MapOutputKey, path: string, partitions: PartitionEntry[]): MapOutputRecord;
}

export class FileHostLocal implements HostLocalAccess {
  private readonly description: LocalStoreDescription;
  private readonly sweeper: NodeJS.Timeout;

  /** Empties the staging directory (files of writers that never asked for adoption) and writes a fresh token. */
  constructor(private readonly files: StoreFiles) {
    const stagingDir = join(files.dataDir, "staging");
    mkdirSync(stagingDir, { recursive: true });
    for (const name of readdirSync(stagingDir)) rmSync(join(stagingDir, name), { force: true, recursive: true });
    const tokenFile = join(files.dataDir, TOKEN_FILE);
    const token = randomBytes(16).toString("hex");
    writeFileSync(tokenFile, token);
    this.description = { dataDir: files.dataDir, stagingDir, token, tokenFile };
    this.sweeper = setInterval(() => this.sweepStale(Date.now()), SWEEP_EVERY_MS).unref();
  }

  /** Removes staged files older than STALE_STAGED_MS: their writers died before asking for adoption. Returns how many. */
  sweepStale(nowMs: number): number {
    let removed = 0;
    for (const name of readdirSync(this.description.stagingDir)) {
      const path = join(this.description.stagingDir, name);
      const modifiedMs = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (modifiedMs === undefined || nowMs - modifiedMs < STALE_STAGED_MS) continue;
      rmSync(path, { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  describe(): LocalStoreDescription {
    return this.description;
  }

  async adopt(key: MapOutputKey, stagedName: string, sizes: number[], crcs: number[]): Promise<MapOutputRecord> {
    if (!STAGED_NAME.test(stagedName)) throw new InvalidArgumentError(`staged_name ${JSON.stringify(stagedName)} is not a file name ending in .partial`);
    if (crcs.length !== sizes.length) throw new InvalidArgumentError(`${sizes.length} partition sizes but ${crcs.length} CRC-32s`);
    const path = join(this.description.stagingDir, stagedName);
    const partitions = entriesOf(sizes, crcs);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    const onDisk = statSync(path, { throwIfNoEntry: false })?.size;
    if (onDisk === undefined) throw new NotFoundError(`staged file ${stagedName} for ${describeMapOutput(key)} not found`);
    if (onDisk !== total) throw new InvalidArgumentError(`staged file ${stagedName} holds ${onDisk} bytes but its partitions cover ${total}`);
    await this.files.ensureShuffleDir(key.shuffleId);
    return this.files.publish(key, path, partitions);
  }

  locate(key: MapOutputKey, partition: number): BlockLocation {
    const record = this.files.readRow(key);
    if (!record) throw new NotFoundError(`${describeMapOutput(key)} not found`);
    const entry = record.partitions[partition];
    if (!entry) throw new InvalidArgumentError(`partition ${partition} is out of range: ${describeMapOutput(key)} has ${record.numPartitions} partitions`);
    return { path: relative(this.files.dataDir, this.files.dataPath(key)), offset: entry.offset, size: entry.size, crc32: entry.crc32 };
  }
}

function entriesOf(sizes: number[], crcs: number[]): PartitionEntry[] {
  let offset = 0;
  return sizes.map((size, partition) => {
    if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`partition ${partition} has an invalid size ${size}`);
    const entry = { offset, size, crc32: crcs[partition]! >>> 0 };
    offset += size;
    return entry;
  });
}
