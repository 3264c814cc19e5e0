import { NotFoundError } from "@ballast/common/errors";
import type { PromotionRequest } from "../core/names.js";
import { openDatabase, type SqliteDatabase } from "@ballast/common/sqlite";

export const MIGRATIONS = [
  `CREATE TABLE blobs (
     sha256 TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     created_at_ms INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE names (
     name TEXT PRIMARY KEY,
     sha256 TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX names_by_sha256 ON names (sha256);
   CREATE TABLE uploads (
     sha256 TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     committed_offset INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Promotions applied (job output commits), by their caller's id: a retry is answered, not redone.
  `CREATE TABLE promotions (
     commit_id TEXT PRIMARY KEY,
     applied_at_ms INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // When each name was last pointed (a re-upload repoints it), so names nobody renews can retire.
  // Names from before count from this migration, not from 1970: an upgrade removes nothing at once.
  `ALTER TABLE names ADD COLUMN named_at_ms INTEGER NOT NULL DEFAULT 0;
   UPDATE names SET named_at_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);`,
];

/** A job output commit: names pointed at other names' blobs (or digests), the rest of a directory removed. */
export type Promotion = PromotionRequest;
/** One name of a promotion and what it points at: another name's blob, or a digest. */
export type Binding = Promotion["bindings"][number];

export type PromotionOutcome = { alreadyApplied: true } | { alreadyApplied: false; removed: number; unreferenced: string[] };

export interface BlobRow {
  sha256: string;
  size: number;
  createdAtMs: number;
}

export interface NamedBlobRow extends BlobRow {
  name: string;
}

export interface UploadRow {
  sha256: string;
  size: number;
  committedOffset: number;
}

const BLOB_COLUMNS = "b.sha256 AS sha256, b.size AS size, b.created_at_ms AS createdAtMs";

/** The staging service's SQLite tables: blobs, names pointing at blobs, and resumable uploads. */
export class StagingMetadata {
  private readonly db: SqliteDatabase;
  private readonly statements;

  constructor(path: string) {
    this.db = openDatabase(path, MIGRATIONS);
    const db = this.db;
    this.statements = {
      blob: db.prepare<[string], BlobRow>(`SELECT ${BLOB_COLUMNS} FROM blobs b WHERE b.sha256 = ?`),
      allBlobs: db.prepare<[], BlobRow>(`SELECT ${BLOB_COLUMNS} FROM blobs b`),
      insertBlob: db.prepare<[string, number, number]>("INSERT OR IGNORE INTO blobs (sha256, size, created_at_ms) VALUES (?, ?, ?)"),
      deleteBlob: db.prepare<[string]>("DELETE FROM blobs WHERE sha256 = ?"),
      named: db.prepare<[string], NamedBlobRow>(
        `SELECT n.name AS name, ${BLOB_COLUMNS} FROM names n JOIN blobs b ON b.sha256 = n.sha256 WHERE n.name = ?`,
      ),
      nameTarget: db.prepare<[string], { sha256: string }>("SELECT sha256 FROM names WHERE name = ?"),
      listNamed: db.prepare<[number, string], NamedBlobRow>(
        `SELECT n.name AS name, ${BLOB_COLUMNS} FROM names n JOIN blobs b ON b.sha256 = n.sha256
         WHERE substr(n.name, 1, ?) = ? ORDER BY n.name`,
      ),
      upsertName: db.prepare<[string, string, number]>(
        `INSERT INTO names (name, sha256, named_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, named_at_ms = excluded.named_at_ms`,
      ),
      namesBefore: db.prepare<[number], { name: string }>("SELECT name FROM names WHERE named_at_ms < ?"),
      deleteName: db.prepare<[string]>("DELETE FROM names WHERE name = ?"),
      nameCount: db.prepare<[string], { count: number }>("SELECT count(*) AS count FROM names WHERE sha256 = ?"),
      deleteNamesOf: db.prepare<[string]>("DELETE FROM names WHERE sha256 = ?"),
      upload: db.prepare<[string], UploadRow>("SELECT sha256, size, committed_offset AS committedOffset FROM uploads WHERE sha256 = ?"),
      allUploads: db.prepare<[], UploadRow>("SELECT sha256, size, committed_offset AS committedOffset FROM uploads"),
      putUpload: db.prepare<[string, number, number]>(
        `INSERT INTO uploads (sha256, size, committed_offset) VALUES (?, ?, ?)
         ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, committed_offset = excluded.committed_offset`,
      ),
      deleteUpload: db.prepare<[string]>("DELETE FROM uploads WHERE sha256 = ?"),
      namedUnder: db.prepare<[string, number, string], { found: number }>(
        "SELECT 1 AS found FROM names WHERE sha256 = ? AND substr(name, 1, ?) = ? LIMIT 1",
      ),
      promotion: db.prepare<[string], { commitId: string }>("SELECT commit_id AS commitId FROM promotions WHERE commit_id = ?"),
      recordPromotion: db.prepare<[string, number]>("INSERT INTO promotions (commit_id, applied_at_ms) VALUES (?, ?)"),
      forgetPromotionsBefore: db.prepare<[number]>("DELETE FROM promotions WHERE applied_at_ms < ?"),
      unnamedBefore: db.prepare<[number], { sha256: string }>(
        "SELECT b.sha256 AS sha256 FROM blobs b WHERE b.created_at_ms < ? AND NOT EXISTS (SELECT 1 FROM names n WHERE n.sha256 = b.sha256)",
      ),
    };
  }

  blob(sha256: string): BlobRow | undefined {
    return this.statements.blob.get(sha256);
  }

  allBlobs(): BlobRow[] {
    return this.statements.allBlobs.all();
  }

  named(name: string): NamedBlobRow | undefined {
    return this.statements.named.get(name);
  }

  list(prefix: string): NamedBlobRow[] {
    return this.statements.listNamed.all(prefix.length, prefix);
  }

  /** Whether some name under `prefix` points at the blob. */
  isNamedUnder(prefix: string, sha256: string): boolean {
    return this.statements.namedUnder.get(sha256, prefix.length, prefix) !== undefined;
  }

  upload(sha256: string): UploadRow | undefined {
    return this.statements.upload.get(sha256);
  }

  allUploads(): UploadRow[] {
    return this.statements.allUploads.all();
  }

  putUpload(row: UploadRow): void {
    this.statements.putUpload.run(row.sha256, row.size, row.committedOffset);
  }

  deleteUpload(sha256: string): void {
    this.statements.deleteUpload.run(sha256);
  }

  /** One transaction: the verified blob, its optional name, and the end of its upload. */
  commitBlob(blob: BlobRow, name: string | undefined): string[] {
    return this.db.transaction(() => {
      this.statements.insertBlob.run(blob.sha256, blob.size, blob.createdAtMs);
      this.statements.deleteUpload.run(blob.sha256);
      return name ? this.pointName(name, blob.sha256) : [];
    })();
  }

  /** Points a name at a stored blob; returns digests of blobs left without any name (to remove). */
  linkName(name: string, sha256: string): string[] {
    return this.db.transaction(() => this.pointName(name, sha256))();
  }

  /** Removes a name; returns whether it existed and the digests of blobs left without any name. */
  deleteName(name: string): { deleted: boolean; unreferenced: string[] } {
    return this.db.transaction(() => {
      const previous = this.statements.nameTarget.get(name);
      if (!previous) return { deleted: false, unreferenced: [] };
      this.statements.deleteName.run(name);
      return { deleted: true, unreferenced: this.dropIfUnnamed(previous.sha256) };
    })();
  }

  /**
   * One transaction: every binding is resolved first (a missing source or blob throws and nothing
   * changes), then the names are pointed, every other name under the prefix removed, and the
   * promotion recorded under its commit id. Returns the digests left without a name (to remove).
   */
  promote(promotion: Promotion, nowMs: number): PromotionOutcome {
    return this.db.transaction((): PromotionOutcome => {
      if (promotion.commitId && this.statements.promotion.get(promotion.commitId)) return { alreadyApplied: true };
      const targets = promotion.bindings.map((binding) => ({ name: binding.name, sha256: this.targetOf(binding) }));
      const replaced = targets.flatMap(({ name, sha256 }) => this.repoint(name, sha256));
      const bound = new Set(targets.map((target) => target.name));
      const doomed = this.list(promotion.removePrefix).filter((row) => !bound.has(row.name));
      for (const row of doomed) this.statements.deleteName.run(row.name);
      if (promotion.commitId) this.statements.recordPromotion.run(promotion.commitId, nowMs);
      // Only once every name is in place: a blob one binding moved a name off may be another's target.
      const unreferenced = [...new Set([...replaced, ...doomed.map((row) => row.sha256)])].flatMap((sha256) => this.dropIfUnnamed(sha256));
      return { alreadyApplied: false, removed: doomed.length, unreferenced };
    })();
  }

  /** Promotion records older than `ms` (a retry comes within minutes of its first try). */
  forgetPromotionsBefore(ms: number): void {
    this.statements.forgetPromotionsBefore.run(ms);
  }

  /** Blobs no name points at, stored before `ms`: a denied attempt's output, an old bundle. */
  unnamedBlobsBefore(ms: number): string[] {
    return this.statements.unnamedBefore.all(ms).map((row) => row.sha256);
  }

  /** Names last pointed before `ms`. */
  namesPointedBefore(ms: number): string[] {
    return this.statements.namesBefore.all(ms).map((row) => row.name);
  }

  /** Forgets a blob whose file is gone, with its names. */
  forgetBlob(sha256: string): void {
    this.db.transaction(() => {
      this.statements.deleteNamesOf.run(sha256);
      this.statements.deleteBlob.run(sha256);
    })();
  }

  close(): void {
    this.db.close();
  }

  private targetOf(binding: Binding): string {
    if ("sha256" in binding) {
      if (!this.statements.blob.get(binding.sha256)) throw new NotFoundError(`cannot point ${binding.name} at blob ${binding.sha256}: there is none`);
      return binding.sha256;
    }
    const source = this.statements.nameTarget.get(binding.sourceName);
    if (!source) throw new NotFoundError(`cannot point ${binding.name} at ${binding.sourceName}: there is no such name`);
    return source.sha256;
  }

  private pointName(name: string, sha256: string): string[] {
    return this.repoint(name, sha256).flatMap((previous) => this.dropIfUnnamed(previous));
  }

  /** Points a name at a blob; returns the digest it pointed at before, if another. */
  private repoint(name: string, sha256: string): string[] {
    const previous = this.statements.nameTarget.get(name);
    this.statements.upsertName.run(name, sha256, Date.now());
    return previous && previous.sha256 !== sha256 ? [previous.sha256] : [];
  }

  private dropIfUnnamed(sha256: string): string[] {
    if (this.statements.nameCount.get(sha256)!.count > 0) return [];
    this.statements.deleteBlob.run(sha256);
    return [sha256];
  }
}
