import type pg from "pg";
import { inTransaction, openPool } from "@ballast/common/postgres";
import { SqlHistoryStore } from "./historyStore.js";
import { POSTGRES_SCHEMA } from "./postgres-schema.js";
import { toPositional, type Params, type Row, type SqlDatabase, type SqlSession } from "./sql.js";
import type { EventCodec } from "./store.js";

const SCHEMA_LOCK = 0x68697374; // "hist": serializes schema setup across history processes
/** History's tables live in a schema of their own: the database may be the schedulers' too (same table names). */
export const HISTORY_SCHEMA = "ballast_history";

/** One pooled connection (in a transaction) or the pool itself, binding @name parameters. */
class PgSession implements SqlSession {
  constructor(private readonly target: pg.Pool | pg.PoolClient) {}

  async run(sql: string, params?: Params): Promise<number> {
    const { text, values } = toPositional(sql, params);
    return (await this.target.query(text, values)).rowCount ?? 0;
  }

  async all(sql: string, params?: Params): Promise<Row[]> {
    const { text, values } = toPositional(sql, params);
    return (await this.target.query(text, values)).rows;
  }
}

class PgSql extends PgSession implements SqlDatabase {
  constructor(private readonly pool: pg.Pool) {
    super(pool);
  }

  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, (client) => work(new PgSession(client)));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * History on PostgreSQL: several hosts may then run history against one
 * database, and it survives the loss of any one of them. Publishing the same
 * batch twice, even from two history processes at once, stores it once: the
 * event insert and its projections are one transaction, keyed by (app, seq).
 */
export class PostgresHistoryStore extends SqlHistoryStore {
  /** Connects and sets up the schema; rejects when the database is unreachable (the caller retries). */
  static async open(url: string, codec: EventCodec, onError?: (err: Error) => void): Promise<PostgresHistoryStore> {
    const pool = openPool(url, { onError, int8AsNumber: true, schema: HISTORY_SCHEMA });
    try {
      await inTransaction(pool, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${HISTORY_SCHEMA}`);
        await client.query(POSTGRES_SCHEMA);
      });
      return new PostgresHistoryStore(new PgSql(pool), codec);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }
}
