import { checkStoreUrl } from "@ballast/common/storeUrl";
import { wireEventCodec } from "../rpc/eventCodec.js";
import { SqliteHistoryStore } from "./sqlite-store.js";
import type { HistoryStore } from "./store.js";

/**
 * The store history uses: PostgreSQL when `url` is postgresql://..., else
 * SQLite in `dataDir`. Rejects when PostgreSQL is unreachable; the caller retries.
 */
export async function openHistoryStore(url: string | undefined, dataDir: string, onError?: (err: Error) => void): Promise<HistoryStore> {
  if (!checkStoreUrl(url)) return SqliteHistoryStore.inDirectory(dataDir, wireEventCodec);
  // pg is loaded only by a history that uses it.
  const { PostgresHistoryStore } = await import("./postgres-store.js");
  return PostgresHistoryStore.open(url!, wireEventCodec, onError);
}
