import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type SqliteDatabase = Database.Database;
export type SqliteStatement = Database.Statement;

/**
 * Prepared statements by SQL text, each prepared once: preparing parses and
 * plans the SQL every time, and was a visible share of the scheduler's CPU
 * when done per call on the history outbox's path.
 */
export function statementCache(db: SqliteDatabase): (sql: string) => SqliteStatement {
  const statements = new Map<string, SqliteStatement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
}

/**
 * Opens a SQLite database in WAL mode and applies `migrations` in order; the
 * applied count is kept in user_version so each runs once. A file a newer
 * version migrated further is refused rather than misread.
 */
export function openDatabase(path: string, migrations: string[]): SqliteDatabase {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  const applied = db.pragma("user_version", { simple: true }) as number;
  if (applied > migrations.length) {
    db.close();
    // A newer version may store rows this one would misread (the scheduler's outbox rows hold several events since schema 4).
    throw new Error(`${path} was written by a newer Ballast (schema ${applied}; this version knows ${migrations.length}): run that version, or a newer one`);
  }
  for (let i = applied; i < migrations.length; i++) {
    db.transaction(() => {
      db.exec(migrations[i]!);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
  return db;
}
