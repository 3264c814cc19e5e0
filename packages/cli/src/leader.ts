import { SchedulerServiceClient } from "../../../gen/ballast/v1/scheduler.js";
import { status } from "@grpc/grpc-js";
import { describeError, isRetryable, isServiceError, UnavailableError } from "../../common/src/errors.js";
import { call, createClient } from "../../common/src/grpc.js";

type Client = InstanceType<typeof SchedulerServiceClient>;

/**
 * The client's view of a scheduler that may fail over: it finds the leader
 * among the known addresses (any scheduler answers GetLeader), and retries
 * calls that fail because the leader went away, for up to `patienceMs`.
 */
export class SchedulerConnection {
  private client: Client | undefined;
  private address: string | undefined;

  constructor(
    private readonly addresses: string[],
    private readonly patienceMs = 60_000,
  ) {
    if (addresses.length === 0) throw new UnavailableError("no scheduler address given");
  }

  /** The leader's client, looking it up again after a failure. */
  async leader(): Promise<Client> {
    if (this.client) return this.client;
    const deadline = Date.now() + this.patienceMs;
    let delay = 100;
    let lastError = "no scheduler answered";
    for (;;) {
      for (const address of this.addresses) {
        const probe = createClient(SchedulerServiceClient, address);
        try {
          const answer = await call(probe.getLeader.bind(probe), {}, 2000);
          const leader = answer.isLeader ? address : answer.leaderAddress;
          if (leader) return this.connect(leader);
          lastError = `${address} is a standby and no leader is elected yet`;
        } catch (err) {
          lastError = `${address}: ${describeError(err)}`;
        } finally {
          probe.close();
        }
      }
      if (Date.now() + delay > deadline) throw new UnavailableError(`cannot reach a leading scheduler (${lastError})`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(2000, delay * 2);
    }
  }

  private connect(address: string): Client {
    this.address = address;
    this.client = createClient(SchedulerServiceClient, address);
    return this.client;
  }

  /** Forgets the current leader (after it failed us). */
  reset(): void {
    this.client?.close();
    this.client = undefined;
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

  get currentAddress(): string | undefined {
    return this.address;
  }

  close(): void {
    this.reset();
  }
}

/**
 * A failure that a failover explains: the leader is unreachable, or it
 * stepped down and cancelled our call while shutting its server.
 */
export function leaderMayHaveMoved(err: unknown): boolean {
  return isRetryable(err) || (isServiceError(err) && err.code === status.CANCELLED);
}
