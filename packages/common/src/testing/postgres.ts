import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import pg from "pg";

/**
 * Finds a PostgreSQL server for tests: BALLAST_TEST_PG_URL (an account that may
 * create databases), else the local Debian cluster, started and given a
 * `ballast` role when we are root. Each test gets its own database. When none
 * can be had, `reason` says why, so a suite skips saying so instead of passing.
 */
export type TestPostgres = { url: string; reason?: undefined } | { url?: undefined; reason: string };

const LOCAL_URL = "postgresql://ballast:ballast@127.0.0.1:5432/postgres";

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** As root on Debian: start the cluster (pg_ctlcluster) and create the test role. */
function startLocalCluster(): string | undefined {
  if (process.getuid?.() !== 0) return "not root, so the local PostgreSQL cluster cannot be started";
  try {
    const cluster = execFileSync("pg_lsclusters", ["--no-header"], { encoding: "utf8" }).trim().split("\n")[0]?.split(/\s+/);
    if (!cluster || cluster.length < 4) return "no PostgreSQL cluster (pg_lsclusters lists none)";
    if (cluster[3] !== "online") execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", cluster[0]!, cluster[1]!, "start"], { stdio: "ignore" });
    const sql = "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ballast') THEN CREATE ROLE ballast LOGIN CREATEDB PASSWORD 'ballast'; END IF; END $$;";
    execFileSync("su", ["postgres", "-c", `psql -q -p ${cluster[2]}`], { input: sql, stdio: ["pipe", "ignore", "ignore"] });
    return undefined;
  } catch (err) {
    return `could not start the local PostgreSQL cluster: ${(err as Error).message}`;
  }
}

let found: Promise<TestPostgres> | undefined;

/** The admin URL of a reachable server, or why there is none (memoized per process). */
export function findTestPostgres(): Promise<TestPostgres> {
  return (found ??= (async () => {
    const configured = process.env.BALLAST_TEST_PG_URL;
    if (configured) {
      const problem = await reachable(configured);
      return problem ? { reason: `BALLAST_TEST_PG_URL is unreachable: ${problem}` } : { url: configured };
    }
    if (!(await reachable(LOCAL_URL))) return { url: LOCAL_URL };
    const startProblem = startLocalCluster();
    if (startProblem) return { reason: `no PostgreSQL: set BALLAST_TEST_PG_URL (${startProblem})` };
    const problem = await reachable(LOCAL_URL);
    return problem ? { reason: `the local PostgreSQL cluster is unreachable: ${problem}` } : { url: LOCAL_URL };
  })());
}

/** A fresh database on the server at `adminUrl`; drop() removes it. */
export async function createTestDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ballast_test_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
