import { openDatabase, type SqliteDatabase } from "@ballast/common/sqlite";

const MIGRATIONS = [
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
];

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
      upsertName: db.prepare<[string, string]>(
        "INSERT INTO names (name, sha256) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256",
      ),
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

  /** Blobs no name points at, stored before `ms`: a denied attempt's output, an old bundle. */
  unnamedBlobsBefore(ms: number): string[] {
    return this.statements.unnamedBefore.all(ms).map((row) => row.sha256);
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

  private pointName(name: string, sha256: string): string[] {
    const previous = this.statements.nameTarget.get(name);
    this.statements.upsertName.run(name, sha256);
    if (!previous || previous.sha256 === sha256) return [];
    return this.dropIfUnnamed(previous.sha256);
  }

  private dropIfUnnamed(sha256: string): string[] {
    if (this.statements.nameCount.get(sha256)!.count > 0) return [];
    this.statements.deleteBlob.run(sha256);
    return [sha256];
  }
}
