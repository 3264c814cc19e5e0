import { status as GrpcStatus } from "@grpc/grpc-js";
import { SchedulerServiceClient, type GetLeaderResponse } from "@ballast/gen/scheduler";
import { describeError, isServiceError } from "@ballast/common/errors";
import { call, createClient } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";

/** What one scheduler said when asked who leads. */
export interface LeaderAnswer {
  address: string;
  response?: GetLeaderResponse;
  /** The scheduler does not implement GetLeader: a single scheduler without election, treated as the leader. */
  unimplemented?: boolean;
  error?: string;
}

/**
 * The known schedulers (active and standbys): one client per address, and
 * the leader lookup. Every scheduler answers GetLeader; the leader says so
 * itself, a standby points at the lease holder.
 */
export class SchedulerDirectory {
  private readonly clients = new Map<string, SchedulerServiceClient>();
  readonly addresses: string[];
  /** The last answer that refused our credentials: asking again, or another scheduler, will not help. */
  refusal?: Error;

  constructor(
    addresses: string[],
    private readonly logger?: Logger,
  ) {
    this.addresses = [...new Set(addresses.map((a) => a.trim()).filter(Boolean))];
    if (this.addresses.length === 0) throw new Error("no scheduler address given");
  }

  clientFor(address: string): SchedulerServiceClient {
    let client = this.clients.get(address);
    if (!client) {
      client = createClient(SchedulerServiceClient, address);
      this.clients.set(address, client);
    }
    return client;
  }

  /**
   * Asks every scheduler at once (each with a short deadline, so a stopped one
   * costs no more than that) and picks the leader; undefined when none is known.
   */
  async findLeader(deadlineMs: number): Promise<string | undefined> {
    const answers = await Promise.all(this.addresses.map((address) => this.ask(address, deadlineMs)));
    const leader = chooseLeader(answers);
    if (!leader) this.logger?.warn({ answers: answers.map(summarize) }, "no scheduler answered as leader");
    return leader;
  }

  /**
   * While connected: another scheduler that claims leadership with a newer
   * epoch than ours means ours was deposed (e.g. paused past its lease with its
   * connections still open). Returns that scheduler's address, if any.
   */
  async newerLeader(current: string, epoch: number, deadlineMs: number): Promise<string | undefined> {
    const others = this.addresses.filter((a) => a !== current);
    const answers = await Promise.all(others.map((address) => this.ask(address, deadlineMs)));
    return answers.find((a) => a.response?.isLeader && a.response.epoch > epoch)?.address;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async ask(address: string, deadlineMs: number): Promise<LeaderAnswer> {
    const client = this.clientFor(address);
    try {
      return { address, response: await call(client.getLeader.bind(client), {}, deadlineMs) };
    } catch (err) {
      if (isServiceError(err) && err.code === GrpcStatus.UNIMPLEMENTED) return { address, unimplemented: true };
      if (isServiceError(err) && (err.code === GrpcStatus.UNAUTHENTICATED || err.code === GrpcStatus.PERMISSION_DENIED)) this.refusal = err;
      return { address, error: describeError(err) };
    }
  }
}

/**
 * The leader among the answers: a scheduler claiming leadership (the highest
 * epoch wins if two do, e.g. a resumed old leader that has not yet stepped
 * down), else the address a standby points at, unless that address was asked
 * and did not claim leadership (a stale pointer).
 */
export function chooseLeader(answers: LeaderAnswer[]): string | undefined {
  const claims = answers
    .filter((a) => a.unimplemented || a.response?.isLeader)
    .sort((a, b) => (b.response?.epoch ?? 0) - (a.response?.epoch ?? 0));
  if (claims.length > 0) return claims[0].address;
  const asked = new Set(answers.map((a) => a.address));
  const pointers = answers
    .filter((a) => a.response && a.response.leaderAddress && !asked.has(a.response.leaderAddress))
    .sort((a, b) => b.response!.epoch - a.response!.epoch);
  return pointers[0]?.response!.leaderAddress;
}

function summarize(answer: LeaderAnswer): Record<string, unknown> {
  return { address: answer.address, error: answer.error, leader: answer.response?.leaderAddress, epoch: answer.response?.epoch };
}
