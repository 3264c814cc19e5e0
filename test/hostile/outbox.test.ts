// The scheduler's history outbox against a real history process: an event history refuses outright is skipped, never a wedge.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { freePort } from "@ballast/common/ports";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HistoryServiceClient } from "@ballast/gen/history";
import { allEvents } from "@ballast/clients/history";
import type { HistoryEvent } from "@ballast/common/domain/events";
import { builtEntry } from "@ballast/common/entry";
import { createClient, isServing } from "@ballast/common/grpc";
import { createLogger } from "@ballast/common/logging";
import { HistoryOutbox } from "@ballast/scheduler/rpc/historyOutbox";
import { SqliteSchedulerStore } from "@ballast/scheduler/store/sqliteSchedulerStore";

let dir: string;
let history: ChildProcess;
let address: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-outbox-"));
  address = `127.0.0.1:${await freePort()}`;
  const args = ["--data-dir", join(dir, "history"), "--address", address, "--http-address", `127.0.0.1:${await freePort()}`];
  history = spawn(process.execPath, [builtEntry("@ballast/history"), ...args], { stdio: "ignore", env: { ...process.env, BALLAST_LOG_LEVEL: "warn" } });
  for (let i = 0; i < 100 && !(await isServing(address, 500)); i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(() => {
  history?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const removed = (executorId: string, timeMs: number): HistoryEvent => ({ type: "executorRemoved", jobId: "", timeMs, executorId, reason: "test" });

describe("the history outbox", () => {
  it("skips an event history refuses outright (a time above 2^53 does not even encode) and publishes the ones behind it", async () => {
    const store = new SqliteSchedulerStore(join(dir, "scheduler"));
    const taken = await store.lease.tryAcquire("t", "t", 60_000);
    if (!taken.acquired) throw new Error("lease not acquired");
    const record = (seq: number, events: HistoryEvent[]) => ({ seq, now: seq, input: { type: "tick" as const }, events, jobs: [] });
    await store.append([record(1, [removed("e1", 10)]), record(2, [removed("e2", 2 ** 60)]), record(3, [removed("e3", 30)])], taken.lease.epoch);
    const outbox = new HistoryOutbox(store, address, createLogger("test"));
    try {
      outbox.kick();
      for (let i = 0; i < 100 && (await store.publishedSeq()) < 3; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await store.publishedSeq()).toBe(3);
      expect(outbox.skipped).toBe(1);
      const client = createClient(HistoryServiceClient, address);
      const events = await allEvents(client, store.applicationId);
      client.close();
      expect(events.map((e) => e.seq)).toEqual([1, 3]);
      expect(await isServing(address, 2000)).toBe(true);
    } finally {
      outbox.close();
      await store.close();
    }
  });
});
