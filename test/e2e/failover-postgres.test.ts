import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { createTestDatabase, findTestPostgres } from "@ballast/common/testing/postgres";
import { expectFewRelaunches, expectNoFinishedTaskRerun, failoverRunner, leaderOf, schedulers, started } from "../support/failover.js";
import { waitUntil } from "../support/faults.js";

// Two schedulers that share nothing but PostgreSQL (each its own data directory, as on two
// hosts): the leader is SIGKILLed mid-reduce and the standby takes over from the database.
// History keeps its event logs in the same database (schema ballast_history).

/** Rows of `sql` in the test's database, read directly, not through any Ballast service. */
async function query(url: string, sql: string): Promise<Array<Record<string, any>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const postgres = await findTestPostgres();
if (postgres.reason) console.warn(`PostgreSQL failover SKIPPED: ${postgres.reason}`);
const runFailover = failoverRunner();
let sqliteStoresSeen: string[] = [];
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

(postgres.reason ? describe.skip : describe)(`scheduler failover on PostgreSQL${postgres.reason ? ` (skipped: ${postgres.reason})` : ""}`, () => {
  beforeAll(async () => {
    database = await createTestDatabase(postgres.url!);
  });
  afterAll(() => database?.drop());

  it("SIGKILL the leader during the reduce stage: the standby leads from the database, exact output, nothing finished rerun", async () => {
    const { summary, events, history, cluster } = await runFailover("postgres-standby", { schedulers: 2, store: database!.url, delay: { stageId: 1, ms: 800 } }, async (running, events) => {
      await waitUntil("a reduce task running", () => started(events(), 1).length >= 1);
      sqliteStoresSeen = schedulers(running).map((s) => join(s.dataDir, "scheduler.sqlite")).filter((file) => existsSync(file));
      process.kill(leaderOf(running).pid, "SIGKILL");
    });
    expectNoFinishedTaskRerun(events);
    expectFewRelaunches(summary.stats.tasksLaunched);
    expect(history.find((e) => e.type === "schedulerFailover")?.epoch).toBe(2);
    // Nothing shared on disk: each scheduler has its own directory and neither has a SQLite store.
    const [first, second] = cluster.services.filter((s) => s.name === "scheduler");
    expect(first!.dataDir).not.toBe(second!.dataDir);
    expect(sqliteStoresSeen).toEqual([]);
    // What history served (its HTTP API, above) it read back from PostgreSQL: the job, the
    // failover and every event are rows there, and history has no SQLite file of its own.
    const historyService = cluster.services.find((s) => s.name === "history")!;
    expect(existsSync(join(historyService.dataDir, "history.sqlite"))).toBe(false);
    const jobs = await query(database!.url, "SELECT job_id FROM ballast_history.jobs");
    expect(jobs.map((r) => r.job_id)).toContain(summary.jobId);
    expect((await query(database!.url, "SELECT epoch FROM ballast_history.failovers")).map((r) => Number(r.epoch))).toEqual([2]);
    const [stored] = await query(database!.url, "SELECT COUNT(*) AS n FROM ballast_history.events");
    expect(Number(stored!.n)).toBeGreaterThanOrEqual(history.length);
  });
});
