import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from "node:fs";
import { mkdir, open, rm, type FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fsyncDir } from "@ballast/common/durable";
import { InvalidArgumentError, NotFoundError } from "@ballast/common/errors";
import { openDatabase, type SqliteDatabase } from "@ballast/common/sqlite";
import { describeMapOutput, validateShuffleId, type MapOutputKey } from "../core/ids.js";
import type { PartitionEntry } from "../core/layout.js";
import { FileBlockReader, FileMapOutputReader, PartialFileWriter } from "./fileBlockIO.js";
import { FileHostLocal } from "./hostLocal.js";
import type { BlockReader, MapOutputReader, MapOutputRecord, MapOutputStore, MapOutputWriter } from "./mapOutputStore.js";

const MIGRATIONS = [
  `CREATE TABLE map_outputs (
     shuffle_id TEXT NOT NULL,
     map_index INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     num_partitions INTEGER NOT NULL,
     -- JSON {"offsets":[...],"sizes":[...],"crcs":[...]}, one entry per reduce partition
     partition_index TEXT NOT NULL,
     committed_at_ms INTEGER NOT NULL,
     PRIMARY KEY (shuffle_id, map_index, attempt)
   ) WITHOUT ROWID`,
  // Small durable facts about the service itself, e.g. the highest scheduler epoch seen.
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
];

const SCHEDULER_EPOCH = "scheduler_epoch";

interface Row {
  shuffle_id: string;
  map_index: number;
  attempt: number;
  num_partitions: number;
  partition_index: string;
  committed_at_ms: number;
}

/** What start-up cleaned: leftovers of writes that never committed, and rows whose file is gone. */
export interface RecoveryReport {
  partialFilesRemoved: number;
  orphanFilesRemoved: number;
  rowsWithoutFileDropped: number;
}

export interface FileStoreOptions {
  now?: () => number;
}

const DATA_FILE = /^(\d+)\.(\d+)\.data$/;
const PARTIAL_SUFFIX = ".partial";

/**
 * Map outputs as files DATA_DIR/data/<shuffleId>/<mapIndex>.<attempt>.data,
 * indexed in DATA_DIR/index.sqlite. A write goes to a .partial file that is
 * fsynced and renamed into place before its index row is committed, so a row
 * always points at complete, durable bytes.
 */
export class FileMapOutputStore implements MapOutputStore {
  readonly recovery: RecoveryReport;
  readonly hostLocal: FileHostLocal;
  private readonly db: SqliteDatabase;
  private readonly dataRoot: string;
  private readonly now: () => number;
  /** Bumped on every commit and removal, so a reader can tell its row and its open file still match. */
  private readonly versions = new Map<string, number>();
  private versionSeq = 0;
  private partialSeq = 0;

  private constructor(dataDir: string, options: FileStoreOptions) {
    this.dataRoot = join(dataDir, "data");
    this.now = options.now ?? Date.now;
    mkdirSync(this.dataRoot, { recursive: true });
    this.db = openDatabase(join(dataDir, "index.sqlite"), MIGRATIONS);
    this.recovery = this.recover();
    this.hostLocal = new FileHostLocal({
      dataDir: resolve(dataDir),
      readRow: (key) => this.readRow(key),
      dataPath: (key) => this.dataPath(key),
      ensureShuffleDir: (shuffleId) => this.ensureShuffleDir(shuffleId),
      publish: (key, path, partitions) => this.publish(key, path, partitions),
    });
  }

  /** Opens (or creates) the store in dataDir and cleans up what a crash left behind. */
  static open(dataDir: string, options: FileStoreOptions = {}): FileMapOutputStore {
    return new FileMapOutputStore(dataDir, options);
  }

  async beginWrite(key: MapOutputKey): Promise<MapOutputWriter> {
    await this.ensureShuffleDir(key.shuffleId);
    const partialPath = `${this.dataPath(key)}.${process.pid}-${++this.partialSeq}${PARTIAL_SUFFIX}`;
    const handle = await open(partialPath, "wx");
    return new PartialFileWriter(handle, partialPath, (path, partitions) => this.publish(key, path, partitions));
  }

  async get(key: MapOutputKey): Promise<MapOutputRecord | undefined> {
    return this.readRow(key);
  }

  async openBlock(key: MapOutputKey, partition: number): Promise<BlockReader> {
    const { record, handle } = await this.openVersion(key);
    const entry = record.partitions[partition];
    if (!entry) {
      await handle.close();
      throw new InvalidArgumentError(`partition ${partition} is out of range: ${describeMapOutput(key)} has ${record.numPartitions} partitions`);
    }
    return new FileBlockReader(handle, entry, describeMapOutput(key));
  }

  async openMapOutput(key: MapOutputKey): Promise<MapOutputReader> {
    const { record, handle } = await this.openVersion(key);
    return new FileMapOutputReader(handle, record, describeMapOutput(key));
  }

  async list(shuffleId?: string): Promise<MapOutputRecord[]> {
    const rows = shuffleId
      ? (this.db.prepare("SELECT * FROM map_outputs WHERE shuffle_id = ? ORDER BY map_index, attempt").all(shuffleId) as Row[])
      : (this.db.prepare("SELECT * FROM map_outputs ORDER BY shuffle_id, map_index, attempt").all() as Row[]);
    return rows.map(recordOf);
  }

  async removeShuffle(shuffleId: string): Promise<number> {
    validateShuffleId(shuffleId);
    // Rows first: once they are gone nothing is visible; leftover files are orphans cleaned at start.
    const removed = this.db.prepare("DELETE FROM map_outputs WHERE shuffle_id = ?").run(shuffleId).changes;
    for (const key of [...this.versions.keys()]) if (key.startsWith(`${shuffleId}/`)) this.versions.set(key, ++this.versionSeq);
    await rm(this.shuffleDir(shuffleId), { recursive: true, force: true });
    fsyncDir(this.dataRoot);
    return removed;
  }

  async raiseSchedulerEpoch(epoch: number): Promise<number> {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(SCHEDULER_EPOCH) as { value: number } | undefined;
      const highest = row?.value ?? 0;
      if (epoch > highest) this.db.prepare("INSERT OR REPLACE INTO meta VALUES (?, ?)").run(SCHEDULER_EPOCH, epoch);
      return highest;
    })();
  }

  async close(): Promise<void> {
    this.hostLocal.close();
    if (this.db.open) this.db.close();
  }

  private async ensureShuffleDir(shuffleId: string): Promise<void> {
    if (await mkdir(this.shuffleDir(shuffleId), { recursive: true })) fsyncDir(this.dataRoot);
  }

  /** Moves a finished partial file into place and indexes it, all in one synchronous step. */
  private publish(key: MapOutputKey, partialPath: string, partitions: PartitionEntry[]): MapOutputRecord {
    const record: MapOutputRecord = { key, numPartitions: partitions.length, partitions, committedAtMs: this.now() };
    // Drop an older row first: a crash between rename and insert must not leave it describing new bytes.
    this.deleteRow(key);
    renameSync(partialPath, this.dataPath(key));
    fsyncDir(this.shuffleDir(key.shuffleId));
    this.insertRow(record);
    this.versions.set(versionKey(key), ++this.versionSeq);
    return record;
  }

  /** The current row and its data file, opened so that they match even if a commit or removal lands meanwhile. */
  private async openVersion(key: MapOutputKey): Promise<{ record: MapOutputRecord; handle: FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      const record = this.readRow(key);
      if (!record) throw new NotFoundError(`${describeMapOutput(key)} not found`);
      const version = this.versions.get(versionKey(key));
      const handle = await this.openDataFile(key);
      const unchanged = this.versions.get(versionKey(key)) === version;
      if (handle && unchanged) return { record, handle };
      await handle?.close();
      if (unchanged || attempt >= 3) throw new NotFoundError(`${describeMapOutput(key)} not found: its data file is missing`);
    }
  }

  private async openDataFile(key: MapOutputKey): Promise<FileHandle | undefined> {
    try {
      return await open(this.dataPath(key), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  private readRow(key: MapOutputKey): MapOutputRecord | undefined {
    const row = this.db
      .prepare("SELECT * FROM map_outputs WHERE shuffle_id = ? AND map_index = ? AND attempt = ?")
      .get(key.shuffleId, key.mapIndex, key.attempt) as Row | undefined;
    return row && recordOf(row);
  }

  private insertRow(record: MapOutputRecord): void {
    const { key, partitions } = record;
    const index = JSON.stringify({
      offsets: partitions.map((p) => p.offset),
      sizes: partitions.map((p) => p.size),
      crcs: partitions.map((p) => p.crc32),
    });
    this.db
      .prepare("INSERT INTO map_outputs VALUES (?, ?, ?, ?, ?, ?)")
      .run(key.shuffleId, key.mapIndex, key.attempt, record.numPartitions, index, record.committedAtMs);
  }

  private deleteRow(key: MapOutputKey): void {
    this.db.prepare("DELETE FROM map_outputs WHERE shuffle_id = ? AND map_index = ? AND attempt = ?").run(key.shuffleId, key.mapIndex, key.attempt);
  }

  private shuffleDir(shuffleId: string): string {
    return join(this.dataRoot, shuffleId);
  }

  private dataPath(key: MapOutputKey): string {
    return join(this.shuffleDir(key.shuffleId), `${key.mapIndex}.${key.attempt}.data`);
  }

  /** Removes .partial files, data files without a row, and rows without a data file. */
  private recover(): RecoveryReport {
    const report: RecoveryReport = { partialFilesRemoved: 0, orphanFilesRemoved: 0, rowsWithoutFileDropped: 0 };
    const indexed = new Set((this.db.prepare("SELECT shuffle_id, map_index, attempt FROM map_outputs").all() as Row[]).map((r) => versionKey(keyOf(r))));
    for (const shuffleId of readdirSync(this.dataRoot)) {
      const dir = this.shuffleDir(shuffleId);
      if (!statSync(dir).isDirectory()) continue;
      for (const name of readdirSync(dir)) {
        const match = DATA_FILE.exec(name);
        const orphan = match && !indexed.has(versionKey({ shuffleId, mapIndex: Number(match[1]), attempt: Number(match[2]) }));
        if (name.endsWith(PARTIAL_SUFFIX)) report.partialFilesRemoved++;
        else if (orphan) report.orphanFilesRemoved++;
        else continue;
        rmSync(join(dir, name), { force: true });
      }
      if (readdirSync(dir).length === 0) rmdirSync(dir);
      else fsyncDir(dir);
    }
    fsyncDir(this.dataRoot);
    for (const id of indexed) {
      const key = parseVersionKey(id);
      if (existsSync(this.dataPath(key))) continue;
      this.deleteRow(key);
      report.rowsWithoutFileDropped++;
    }
    return report;
  }
}

function versionKey(key: MapOutputKey): string {
  return `${key.shuffleId}/${key.mapIndex}.${key.attempt}`;
}

function parseVersionKey(id: string): MapOutputKey {
  const slash = id.lastIndexOf("/");
  const [mapIndex, attempt] = id.slice(slash + 1).split(".").map(Number);
  return { shuffleId: id.slice(0, slash), mapIndex: mapIndex!, attempt: attempt! };
}

function keyOf(row: Row): MapOutputKey {
  return { shuffleId: row.shuffle_id, mapIndex: row.map_index, attempt: row.attempt };
}

function recordOf(row: Row): MapOutputRecord {
  const index = JSON.parse(row.partition_index) as { offsets: number[]; sizes: number[]; crcs: number[] };
  return {
    key: keyOf(row),
    numPartitions: row.num_partitions,
    partitions: index.offsets.map((offset, i) => ({ offset, size: index.sizes[i]!, crc32: index.crcs[i]! })),
    committedAtMs: row.committed_at_ms,
  };
}
