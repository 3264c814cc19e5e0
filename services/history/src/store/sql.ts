/**
 * The little SQL the history store needs, spoken the same way to SQLite and
 * to PostgreSQL: statements name their parameters @name, and each backend
 * binds them its own way. The projection and query SQL itself is written in
 * the dialect both understand (INSERT ... ON CONFLICT, GREATEST/LEAST, which
 * the SQLite adapter registers as functions).
 */
export type Row = Record<string, any>;
export type Params = Record<string, unknown>;

/** One connection's view, inside a transaction or not. */
export interface SqlSession {
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: Params): Promise<number>;
  all(sql: string, params?: Params): Promise<Row[]>;
}

export interface SqlDatabase extends SqlSession {
  /** Runs `work` atomically: every statement of it or none. */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export const firstRow = async (rows: Promise<Row[]>): Promise<Row | undefined> => (await rows)[0];

const namesCache = new Map<string, { text: string; names: string[] }>();

/** `@name` placeholders as PostgreSQL's `$n`, each name bound once however often it appears. */
export function toPositional(sql: string, params: Params = {}): { text: string; values: unknown[] } {
  let parsed = namesCache.get(sql);
  if (!parsed) {
    const names: string[] = [];
    const text = sql.replace(/@(\w+)/g, (_, name: string) => {
      const index = names.includes(name) ? names.indexOf(name) : names.push(name) - 1;
      return `$${index + 1}`;
    });
    namesCache.set(sql, (parsed = { text, names }));
  }
  const values = parsed.names.map((name) => {
    if (!(name in params)) throw new Error(`SQL parameter @${name} is not bound`);
    return params[name];
  });
  return { text: parsed.text, values };
}
