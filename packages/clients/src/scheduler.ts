import { SchedulerServiceClient } from "@ballast/gen/scheduler";
import { status } from "@grpc/grpc-js";
import { isRetryable, isServiceError, UnavailableError } from "@ballast/common/errors";
import { SchedulerDirectory } from "./schedulerDirectory.js";

type Client = InstanceType<typeof SchedulerServiceClient>;

/**
 * The client's view of a scheduler that may fail over: it finds the leader
 * among the known addresses (any scheduler answers GetLeader; the lookup is
 * the executors' SchedulerDirectory), and retries calls that fail because the
 * leader went away, for up to `patienceMs`.
 */
export class SchedulerConnection {
  private readonly directory: SchedulerDirectory;
  private address: string | undefined;

  constructor(
    addresses: string[],
    private readonly patienceMs = 60_000,
  ) {
    if (addresses.length === 0) throw new UnavailableError("no scheduler address given");
    this.directory = new SchedulerDirectory(addresses);
  }

  /** The leader's client, looking it up again after a failure. */
  async leader(): Promise<Client> {
    const deadline = Date.now() + this.patienceMs;
    let delay = 100;
    while (!this.address) {
      this.address = await this.directory.findLeader(2000);
      if (this.address) break;
      if (this.directory.refusal) throw this.directory.refusal;
      if (Date.now() + delay > deadline) throw new UnavailableError(`cannot reach a leading scheduler at ${this.directory.addresses.join(", ")}`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(2000, delay * 2);
    }
    return this.directory.clientFor(this.address);
  }

  /** Forgets the current leader (after it failed us). */
  reset(): void {
    this.address = undefined;
  }

  /** Runs a call against the leader, finding a new one when it fails over. */
  async withLeader<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.patienceMs;
    for (;;) {
      const client = await this.leader();
      try {
        return await fn(client);
      } catch (err) {
        if (!leaderMayHaveMoved(err) || Date.now() > deadline) throw err;
        this.reset();
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  close(): void {
    this.reset();
    this.directory.close();
  }
}

/**
 * A failure that a failover explains: the leader is unreachable, or it
 * stepped down and cancelled our call while shutting its server.
 */
export function leaderMayHaveMoved(err: unknown): boolean {
  return isRetryable(err) || (isServiceError(err) && err.code === status.CANCELLED);
}

/** Runs one call on the leading scheduler among `addresses` (following a failover), then closes. */
export async function onLeader<T>(addresses: string[], fn: (client: Client) => Promise<T>, patienceMs?: number): Promise<T> {
  const connection = new SchedulerConnection(addresses, patienceMs);
  try {
    return await connection.withLeader(fn);
  } finally {
    connection.close();
  }
}
