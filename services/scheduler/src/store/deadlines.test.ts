import { createServer, Socket, type AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import { FreezableProxy, behindProxy } from "@ballast/common/testing/tcpProxy";
import { Leadership } from "../leadership.js";
import { PostgresSchedulerStore } from "./postgresSchedulerStore.js";

/**
 * A PostgreSQL that stops answering (a partition, a hung server) must fail
 * store calls within their deadline, not hang them; and a leader whose
 * renewals cannot complete must stop acting before its lease can expire in the
 * database. Real PostgreSQL, reached through a TCP proxy this test can freeze.
 */

/** A TCP port that accepts connections and never says a word; close() drops them. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function until(condition: () => boolean, withinMs: number): Promise<void> {
  const started = performance.now();
  while (!condition() && performance.now() - started < withinMs) await new Promise((r) => setTimeout(r, 20));
}

function collectingLogger() {
  const lines: Array<Record<string, any>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, messages: () => lines.map((l) => l.msg as string) };
}

const postgres = await findTestPostgres();
const DEADLINES = { connectMs: 800, queryMs: 800 };

describe.skipIf(!!postgres.reason)(`store deadlines on PostgreSQL${postgres.reason ? ` (skipped: ${postgres.reason})` : ""}`, () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });

  async function databaseBehindProxy() {
    const db = await createTestDatabase(postgres.url!);
    cleanup.push(() => db.drop());
    const { proxy, url } = await behindProxy(db.url);
    cleanup.push(() => proxy.stop());
    return { directUrl: db.url, proxy, proxiedUrl: url };
  }

  const open = async (url: string) => {
    const store = await PostgresSchedulerStore.open(url, () => undefined, DEADLINES);
    cleanup.push(() => store.close());
    return store;
  };

  it("fails a call to a database that stopped answering within the query deadline, and works again once it answers", async () => {
    const { proxy, proxiedUrl } = await databaseBehindProxy();
    const store = await open(proxiedUrl);
    const taken = await store.lease.tryAcquire("a", "a:1", 60_000);
    expect(taken.acquired).toBe(true);
    proxy.freeze();
    const started = performance.now();
    await expect(store.lease.renew("a", 1, 60_000)).rejects.toThrow(/timeout/i);
    const waitedMs = performance.now() - started;
    expect(waitedMs).toBeGreaterThanOrEqual(DEADLINES.queryMs - 50);
    expect(waitedMs).toBeLessThan(DEADLINES.queryMs + 2_000);
    proxy.thaw();
    // The timed-out connection was discarded, not handed to the next caller.
    expect(await store.lease.renew("a", 1, 60_000)).toBe(true);
    // The same for a call in a transaction (one connection held from BEGIN to COMMIT).
    proxy.freeze();
    await expect(store.lease.tryAcquire("b", "b:1", 60_000)).rejects.toThrow(/timeout/i);
    proxy.thaw();
    expect(await store.lease.tryAcquire("b", "b:1", 60_000)).toMatchObject({ acquired: false, holder: { address: "a:1" } });
  });

  it("gives up connecting to a port that accepts and never answers within the connect deadline", async () => {
    const silent = await silentServer();
    cleanup.push(() => silent.close());
    const started = performance.now();
    const url = `postgresql://ballast:ballast@127.0.0.1:${silent.port}/postgres`;
    await expect(PostgresSchedulerStore.open(url, () => undefined, DEADLINES)).rejects.toThrow(/timeout/i);
    expect(performance.now() - started).toBeLessThan(DEADLINES.connectMs + 2_000);
  });

  it("a leader cut off from the database stops acting before a standby can take the lease, and steps down when it is back", async () => {
    const { proxy, proxiedUrl, directUrl } = await databaseBehindProxy();
    const leaseTimeoutMs = 1_500;
    const { logger, messages } = collectingLogger();
    let lostReason = "";
    const leader = new Leadership((await open(proxiedUrl)).lease, "leader:1", leaseTimeoutMs, logger, (reason) => (lostReason = reason));
    cleanup.push(() => leader.release());
    await leader.acquire(new AbortController().signal);
    expect(leader.isLeader()).toBe(true);

    proxy.freeze();
    const cutAt = performance.now();
    const standbyStore = (await open(directUrl)).lease;
    let stoppedActingAt = 0;
    let standbyLeadsAt = 0;
    while (!standbyLeadsAt && performance.now() - cutAt < 10_000) {
      if (!stoppedActingAt && !leader.isLeader()) stoppedActingAt = performance.now();
      if ((await standbyStore.tryAcquire("standby", "standby:1", leaseTimeoutMs)).acquired) standbyLeadsAt = performance.now();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(standbyLeadsAt, "the standby took the lease").toBeGreaterThan(0);
    expect(stoppedActingAt, "the old leader stopped acting").toBeGreaterThan(0);
    expect(stoppedActingAt).toBeLessThan(standbyLeadsAt);
    expect(stoppedActingAt - cutAt).toBeLessThanOrEqual(leaseTimeoutMs);
    expect(leader.isLeader()).toBe(false);
    const lapse = "could not renew the lease in time; no launches or commit grants until it is renewed";
    await until(() => messages().includes(lapse), 2_000);
    expect(messages()).toContain(lapse);

    proxy.thaw();
    await until(() => lostReason !== "", 5_000);
    expect(lostReason).toBe("another scheduler took the lease");
    expect(leader.isLeader()).toBe(false);
  });
});
