import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import { behindProxy } from "@ballast/common/testing/tcpProxy";
import { wireEventCodec } from "../rpc/eventCodec.js";
import { applicationEvents } from "../testing/fixtures.js";
import { PostgresHistoryStore } from "./postgres-store.js";

// What only the networked backend has to survive: its connection dropping in the middle of a
// transaction (a restarting server). The call fails; the process does not (an unheard 'error'
// event on the pg client would crash it); the next call works and nothing half-done remains.

const postgres = await findTestPostgres();

describe.skipIf(!!postgres.reason)(`PostgresHistoryStore on a dropped connection${postgres.reason ? ` (skipped: ${postgres.reason})` : ""}`, () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });

  it("fails the publish in flight, then stores the whole batch on the next try", async () => {
    const db = await createTestDatabase(postgres.url!);
    cleanup.push(() => db.drop());
    const { proxy, url } = await behindProxy(db.url);
    cleanup.push(() => proxy.stop());
    const store = await PostgresHistoryStore.open(url, wireEventCodec);
    cleanup.push(() => store.close());

    proxy.freeze();
    const publishing = store.publish("app-1", applicationEvents());
    await new Promise((r) => setTimeout(r, 100)); // the transaction's first statement is on the wire
    proxy.dropConnections();
    proxy.thaw();
    await expect(publishing).rejects.toThrow(/Connection terminated/);
    expect(await store.listApplications()).toEqual([]);

    expect(await store.publish("app-1", applicationEvents())).toEqual({ ackedSeq: 17, inserted: 17 });
    expect((await store.getApplication("app-1"))!.eventCount).toBe(17);
  });
});
