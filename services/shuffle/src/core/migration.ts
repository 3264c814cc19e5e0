/**
 * Moving map outputs off a decommissioning node: which peer gets each output,
 * how many copies run at once, and what happens when a copy fails. The copy
 * itself (reading files, talking to peers) is injected, so this has no I/O.
 */

/** Outputs copied at once when the request does not say. */
export const DEFAULT_MIGRATION_PARALLELISM = 4;
/** More would only contend for the same disk and network. */
export const MAX_MIGRATION_PARALLELISM = 16;

/** 0 -> the default; above the cap -> the cap. */
export function effectiveParallelism(requested: number): number {
  if (!requested) return DEFAULT_MIGRATION_PARALLELISM;
  return Math.min(Math.max(1, Math.floor(requested)), MAX_MIGRATION_PARALLELISM);
}

/**
 * A failed copy. scope "peer": the peer is the problem (down, slow, full),
 * another may take the output. scope "output": the output itself cannot be
 * copied (its bytes fail their checksum, it is gone), so no peer is tried.
 */
export class CopyError extends Error {
  constructor(
    readonly scope: "peer" | "output",
    message: string,
  ) {
    super(message);
    this.name = "CopyError";
  }
}

/** Chooses the least-loaded peer, preferring ones that have not failed, rotating among equals. */
export class PeerSelector {
  private readonly inFlight = new Map<string, number>();
  private readonly failing = new Set<string>();
  private cursor = 0;

  constructor(private readonly peers: readonly string[]) {
    for (const peer of peers) this.inFlight.set(peer, 0);
  }

  /** The best peer not in `exclude` (already tried for this output), or undefined when none is left. */
  pick(exclude: ReadonlySet<string>): string | undefined {
    let best: { peer: string; rank: [number, number, number] } | undefined;
    for (const [i, peer] of this.peers.entries()) {
      if (exclude.has(peer)) continue;
      const distance = (i - this.cursor + this.peers.length) % this.peers.length;
      const rank: [number, number, number] = [this.failing.has(peer) ? 1 : 0, this.inFlight.get(peer)!, distance];
      if (!best || lessThan(rank, best.rank)) best = { peer, rank };
    }
    if (best) this.cursor = (this.peers.indexOf(best.peer) + 1) % this.peers.length;
    return best?.peer;
  }

  started(peer: string): void {
    this.inFlight.set(peer, this.inFlight.get(peer)! + 1);
  }

  finished(peer: string, peerHealthy: boolean): void {
    this.inFlight.set(peer, this.inFlight.get(peer)! - 1);
    if (peerHealthy) this.failing.delete(peer);
    else this.failing.add(peer);
  }
}

function lessThan(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

export type MigrationOutcome<T, R> =
  | { item: T; ok: true; peer: string; result: R }
  | { item: T; ok: false; error: string };

export interface MigrationOptions<T, R> {
  peers: readonly string[];
  parallelism: number;
  /** Copies one item to one peer; throws (preferably a CopyError) on failure; must stop when `signal` aborts. */
  copy(item: T, peer: string, signal: AbortSignal): Promise<R>;
  /** Called once per item, in completion order; awaited before that worker takes another item (backpressure). */
  onOutcome(outcome: MigrationOutcome<T, R>): Promise<void>;
  /** Called for each failed attempt (for logs); the item may still land on another peer. */
  onAttemptFailed?(item: T, peer: string, error: Error): void;
  /** Aborting stops new copies and cancels running ones; their outcomes are not reported. */
  signal: AbortSignal;
}

/** Copies every item to exactly one peer, at most `parallelism` at once. Resolves when all are done or the signal aborted. */
export async function migrateAll<T, R>(items: readonly T[], options: MigrationOptions<T, R>): Promise<void> {
  const selector = new PeerSelector(options.peers);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !options.signal.aborted) {
      const item = items[next++]!;
      const outcome = await migrateOne(item, selector, options);
      if (options.signal.aborted) return;
      await options.onOutcome(outcome);
    }
  };
  const workers = Math.max(1, Math.min(options.parallelism, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
}

async function migrateOne<T, R>(item: T, selector: PeerSelector, options: MigrationOptions<T, R>): Promise<MigrationOutcome<T, R>> {
  const tried = new Set<string>();
  const failures: string[] = [];
  for (let peer = selector.pick(tried); peer !== undefined && !options.signal.aborted; peer = selector.pick(tried)) {
    tried.add(peer);
    selector.started(peer);
    try {
      const result = await options.copy(item, peer, options.signal);
      selector.finished(peer, true);
      return { item, ok: true, peer, result };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const outputIsTheProblem = error instanceof CopyError && error.scope === "output";
      // A bad output says nothing about the peer.
      selector.finished(peer, outputIsTheProblem);
      if (!options.signal.aborted) options.onAttemptFailed?.(item, peer, error);
      if (outputIsTheProblem) return { item, ok: false, error: `${peer}: ${error.message}` };
      failures.push(`${peer}: ${error.message}`);
    }
  }
  if (options.signal.aborted) return { item, ok: false, error: "migration cancelled" };
  return { item, ok: false, error: `no peer took it (${failures.join("; ")})` };
}
