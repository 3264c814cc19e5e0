import { checkStoreUrl } from "@ballast/common/storeUrl";
import type { SchedulerStore } from "./schedulerStore.js";
import { SqliteSchedulerStore } from "./sqliteSchedulerStore.js";

/**
 * The store a scheduler uses: PostgreSQL when `url` is postgresql://..., else
 * SQLite in `dataDir`. Rejects when PostgreSQL is unreachable; the caller retries.
 */
export async function openSchedulerStore(url: string | undefined, dataDir: string, onError?: (err: Error) => void): Promise<SchedulerStore> {
  if (!checkStoreUrl(url)) return new SqliteSchedulerStore(dataDir);
  // pg is loaded only by schedulers that use it: every scheduler's start-up would pay for it.
  const { PostgresSchedulerStore } = await import("./postgresSchedulerStore.js");
  return PostgresSchedulerStore.open(url!, onError);
}
