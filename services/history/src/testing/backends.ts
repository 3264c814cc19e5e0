import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import { wireEventCodec } from "../rpc/eventCodec.js";
import { PostgresHistoryStore } from "../store/postgres-store.js";
import { SqliteHistoryStore } from "../store/sqlite-store.js";
import type { HistoryStore } from "../store/store.js";

/** Where one history store lives; open() again gives another store on the same data (a restart). */
export interface StorePlace {
  open(): Promise<HistoryStore>;
  destroy(): Promise<void>;
}

export interface HistoryBackend {
  name: string;
  /** Why this backend cannot run here, if it cannot. */
  skip?: string;
  place(): Promise<StorePlace>;
}

const sqlite: HistoryBackend = {
  name: "SQLite",
  place: async () => {
    const dir = mkdtempSync(join(tmpdir(), "history-store-"));
    return { open: async () => SqliteHistoryStore.inDirectory(dir, wireEventCodec), destroy: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

const postgres = await findTestPostgres();
const postgresBackend: HistoryBackend = {
  name: "PostgreSQL",
  skip: postgres.reason,
  place: async () => {
    const db = await createTestDatabase(postgres.url!);
    return { open: () => PostgresHistoryStore.open(db.url, wireEventCodec), destroy: () => db.drop() };
  },
};
if (postgres.reason) console.warn(`history store contract: PostgreSQL half SKIPPED: ${postgres.reason}`);

/** Every backend; a suite runs once per backend, and skips (saying why) where one cannot run. */
export const HISTORY_BACKENDS: HistoryBackend[] = [sqlite, postgresBackend];

/**
 * Stores for one suite: fresh() is an empty store in a place of its own,
 * reopen(store) another store on the same data. All are closed and their
 * places destroyed after each test.
 */
export function useStores(backend: HistoryBackend) {
  const open: HistoryStore[] = [];
  const places = new Map<HistoryStore, StorePlace>();
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close().catch(() => undefined)));
    await Promise.all([...new Set(places.values())].map((p) => p.destroy()));
    places.clear();
  });
  const openIn = async (place: StorePlace) => {
    const store = await place.open();
    open.push(store);
    places.set(store, place);
    return store;
  };
  return {
    fresh: async () => openIn(await backend.place()),
    reopen: (store: HistoryStore) => openIn(places.get(store)!),
  };
}
