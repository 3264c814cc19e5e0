import { join } from "node:path";
import { openDatabase, statementCache, type SqliteDatabase } from "@ballast/common/sqlite";
import { SqlHistoryStore } from "./historyStore.js";
import { MIGRATIONS } from "./schema.js";
import type { Params, Row, SqlDatabase, SqlSession } from "./sql.js";
import type { EventCodec } from "./store.js";

/**
 * better-sqlite3 behind the async SqlDatabase. Its calls are synchronous, so
 * a transaction's statements run back to back in one turn of the event loop;
 * transactions are chained so that two publishes never interleave.
 */
class SqliteSql implements SqlDatabase {
  /** A prepared statement, prepared once per SQL text. */
  private readonly statement: ReturnType<typeof statementCache>;
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: SqliteDatabase) {
    this.statement = statementCache(db);
    // The shared SQL uses PostgreSQL's names for the two-argument max and min.
    db.function("greatest", { deterministic: true }, (a, b) => ((a as number) >= (b as number) ? a : b));
    db.function("least", { deterministic: true }, (a, b) => ((a as number) <= (b as number) ? a : b));
  }

  async run(sql: string, params?: Params): Promise<number> {
    const statement = this.statement(sql);
    return (params ? statement.run(params) : statement.run()).changes;
  }

  async all(sql: string, params?: Params): Promise<Row[]> {
    const statement = this.statement(sql);
    return (params ? statement.all(params) : statement.all()) as Row[];
  }

  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
    const next = this.last.then(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await work(this);
        this.db.exec("COMMIT");
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw err;
      }
    });
    this.last = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.last;
    if (this.db.open) this.db.close();
  }
}

/** The default HistoryStore: one SQLite file, DATA_DIR/history.sqlite. */
export class SqliteHistoryStore extends SqlHistoryStore {
  /** `path` is a file or ":memory:". */
  constructor(path: string, codec: EventCodec) {
    super(new SqliteSql(openDatabase(path, MIGRATIONS)), codec);
  }

  /** Opens (creating if needed) DATA_DIR/history.sqlite. */
  static inDirectory(dataDir: string, codec: EventCodec): SqliteHistoryStore {
    return new SqliteHistoryStore(join(dataDir, "history.sqlite"), codec);
  }
}
