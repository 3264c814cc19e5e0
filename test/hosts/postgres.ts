import { spawn } from "node:child_process";
import { appendFileSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "@ballast/cli/cluster";
import { waitUntil } from "../support/faults.js";
import { SUBNET, type Host, type Network } from "./netns.js";

/**
 * A PostgreSQL server of its own on a test host: initdb into the run's directory and
 * `postgres -h <host ip>` inside the host's namespace, as the postgres user. The machine's own
 * cluster is never touched, and restarting this one is a real server restart.
 */
const BIN = "/usr/lib/postgresql/15/bin";
const PORT = 5432;

export class HostPostgres {
  pid = 0;
  readonly url: string;
  private readonly dataDir: string;

  constructor(private readonly network: Network, private readonly host: Host, dir: string) {
    this.dataDir = join(dir, "pgdata");
    this.url = `postgresql://postgres@${host.ip}:${PORT}/postgres`;
  }

  /** Why no server can be run here, or undefined. */
  static unavailable(): string | undefined {
    if (!existsSync(`${BIN}/postgres`)) return `PostgreSQL 15 server binaries are missing (${BIN}; apt-get install postgresql-15)`;
    if (!readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("postgres:"))) return "no postgres user to run the server as";
    return undefined;
  }

  init(): void {
    mkdirSync(this.dataDir, { recursive: true });
    const { uid, gid } = postgresUser();
    chownSync(join(this.dataDir, ".."), uid, gid);
    chownSync(this.dataDir, uid, gid);
    this.network.exec(this.host, "setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--init-groups", `${BIN}/initdb`, "-D", this.dataDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
    // Trust is enough on a private test subnet; fsync off is safe against process crashes (the
    // only kind these tests make: the OS keeps what was written) and keeps a 2-core machine quick.
    // synchronous_commit stays on: off, a commit is acknowledged before its WAL is written, and the
    // immediate stop of scenario 5 lost acknowledged appends (a gap in the scheduler's own log).
    appendFileSync(join(this.dataDir, "pg_hba.conf"), `host all all ${SUBNET}.0/24 trust\n`);
    appendFileSync(join(this.dataDir, "postgresql.conf"), "fsync = off\nmax_connections = 50\n");
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const { uid, gid } = postgresUser();
    const log = openSync(join(this.dataDir, "..", "postgres.log"), "a");
    const child = spawn("ip", ["netns", "exec", this.host.ns, "setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", `${BIN}/postgres`, "-D", this.dataDir, "-k", this.dataDir, "-h", this.host.ip, "-p", String(PORT)], {
      detached: true,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    child.unref();
    this.pid = child.pid ?? 0; // ip netns exec and setpriv exec, so this is the postmaster
    await waitUntil("PostgreSQL to accept connections", () => this.ready(), timeoutMs);
  }

  /** An immediate shutdown (no checkpoint, clients cut off): the server a restart recovers from. */
  async stop(): Promise<void> {
    if (!isAlive(this.pid)) return;
    process.kill(this.pid, "SIGQUIT");
    await waitUntil("PostgreSQL to stop", () => !isAlive(this.pid), 15_000);
  }

  private ready(): boolean {
    try {
      this.network.exec(this.host, `${BIN}/pg_isready`, ["-h", this.host.ip, "-p", String(PORT), "-t", "1"]);
      return true;
    } catch {
      return false;
    }
  }
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"))!;
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}
