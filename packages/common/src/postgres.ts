import pg from "pg";

/**
 * What every Ballast service that keeps state in PostgreSQL shares: a
 * connection pool whose every call has a deadline, and transactions on it. Without deadlines a call to a database behind a partition hangs
 * (TCP retransmits for minutes) and whatever waits on it (a lease renewal, a
 * commit) hangs silently with it.
 */

export interface Deadlines {
  /** Opening a connection, or waiting for a free one in the pool. */
  connectMs: number;
  /** One query, measured by the client (covers a server or network that never answers). */
  queryMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { connectMs: 5_000, queryMs: 10_000 };

const INT8_OID = 20;
const NUMERIC_INT8 = (text: string) => Number(text);

/**
 * A pool on `url` with deadlines on every call. The server enforces the same
 * query deadline (statement_timeout), so a statement stuck on a lock is
 * cancelled there too. `int8AsNumber`: BIGINT columns (ms, seq) read as numbers.
 */
export interface PoolOptions {
  onError?: (err: Error) => void;
  deadlines?: Deadlines;
  int8AsNumber?: boolean;
  max?: number;
  /** Unqualified names resolve in this schema first: services sharing one database keep their tables apart. */
  schema?: string;
}

export function openPool(url: string, options: PoolOptions = {}): pg.Pool {
  const deadlines = options.deadlines ?? DEFAULT_DEADLINES;
  const types = options.int8AsNumber
    ? { getTypeParser: (oid: number, format?: string) => (oid === INT8_OID ? NUMERIC_INT8 : pg.types.getTypeParser(oid, format as "text")) }
    : undefined;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    connectionTimeoutMillis: deadlines.connectMs,
    query_timeout: deadlines.queryMs,
    statement_timeout: deadlines.queryMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 1_000,
    ...(options.schema ? { options: `-c search_path=${options.schema},public` } : {}),
    ...(types ? { types } : {}),
  });
  // An idle connection dropped by a restarting server must not crash the process.
  pool.on("error", options.onError ?? (() => undefined));
  return pool;
}

/**
 * Runs `work` in a transaction on one pooled connection. A connection on which
 * anything failed is discarded, not reused: after a client-side timeout the
 * server may still be running the statement, and the next user would queue
 * behind it.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  // A connection that drops while checked out emits 'error' on the client (the pool listens only
  // on idle ones): unheard, it would crash the process. The statement in flight fails anyway.
  const onDropped = (err: Error) => void (failure ??= err);
  client.on("error", onDropped);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.removeListener("error", onDropped);
    client.release(failure);
  }
}
