import { describeError } from "@ballast/common/errors";
import { isServing } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { ShuffleClient } from "@ballast/clients/shuffle";
import { PROBE_VERDICT_WAIT_MS } from "../core/nodes.js";
import type { Input } from "../core/types.js";

// Declaring a live shuffle service lost recomputes every map output it holds, while a slow verdict
// on a dead one costs little (a refused connection answers at once; fetch failures report it too):
// so each check gets a generous deadline that a loaded machine's health answer fits in.
const PROBE_ATTEMPTS = 3;
const PROBE_GAP_MS = 300;
const PROBE_DEADLINE_MS = 1500;
// Resubmissions wait for a probe's verdict that long at most: the probes must fit in it.
if (PROBE_ATTEMPTS * PROBE_DEADLINE_MS + (PROBE_ATTEMPTS - 1) * PROBE_GAP_MS >= PROBE_VERDICT_WAIT_MS) throw new Error("shuffle probes outlast PROBE_VERDICT_WAIT_MS");

/**
 * The scheduler's calls to shuffle services. Each outcome returns to the
 * core as an input; requests carry the scheduler's epoch so a deposed
 * leader's requests are refused (fencing).
 */
export class ShufflePeers {
  private readonly probing = new Set<string>();

  constructor(
    private readonly dispatch: (input: Input) => void,
    private readonly logger: Logger,
    private readonly epoch: number,
    private readonly migrationParallelism: number,
  ) {}

  /** A node's executor is gone; is its shuffle service too? A few health checks decide. */
  probe(nodeId: string, shuffleAddress: string): void {
    if (this.probing.has(shuffleAddress)) return;
    this.probing.add(shuffleAddress);
    void (async () => {
      try {
        for (let attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++) {
          if (await isServing(shuffleAddress, PROBE_DEADLINE_MS)) {
            this.dispatch({ type: "shuffleServiceAnswered", nodeId, shuffleAddress });
            return;
          }
          if (attempt < PROBE_ATTEMPTS) await new Promise((r) => setTimeout(r, PROBE_GAP_MS));
        }
        this.logger.warn({ nodeId, shuffleAddress }, "shuffle service unreachable: its node is lost");
        this.dispatch({ type: "shuffleServiceLost", nodeId, shuffleAddress, reason: `shuffle service ${shuffleAddress} unreachable after its executor was lost` });
      } finally {
        this.probing.delete(shuffleAddress);
      }
    })();
  }

  migrate(nodeId: string, shuffleAddress: string, peers: Array<{ nodeId: string; shuffleAddress: string }>): void {
    const nodeOf = new Map(peers.map((p) => [p.shuffleAddress, p.nodeId]));
    const client = new ShuffleClient(shuffleAddress);
    const started = Date.now();
    this.logger.info({ nodeId, peers: peers.map((p) => p.nodeId) }, "migrating shuffle outputs off a decommissioning node");
    client
      .migrateMapOutputs(
        peers.map((p) => p.shuffleAddress),
        {
          parallelism: this.migrationParallelism,
          epoch: this.epoch,
          onOutput: (o) => {
            if (!o.newAddress) return;
            this.dispatch({ type: "mapOutputMigrated", fromNodeId: nodeId, shuffleId: o.ref.shuffleId, mapIndex: o.ref.mapIndex, attempt: o.ref.attempt, newAddress: o.newAddress, newNodeId: nodeOf.get(o.newAddress) ?? "", bytes: o.bytes });
          },
        },
      )
      .then((summary) => this.dispatch({ type: "migrationFinished", nodeId, migrated: summary.migrated, failed: summary.failed, bytes: summary.bytes, durationMs: summary.durationMs, error: "" }))
      .catch((err) => {
        this.logger.warn({ nodeId, err: describeError(err) }, "shuffle migration failed");
        this.dispatch({ type: "migrationFinished", nodeId, migrated: 0, failed: 0, bytes: 0, durationMs: Date.now() - started, error: describeError(err) });
      })
      .finally(() => client.close());
  }

  removeShuffles(shuffleIds: string[], addresses: string[]): void {
    for (const address of addresses) {
      const client = new ShuffleClient(address);
      Promise.all(shuffleIds.map((id) => client.removeShuffle(id, this.epoch)))
        .catch((err) => this.logger.debug({ address, err: describeError(err) }, "could not remove shuffle data"))
        .finally(() => client.close());
    }
  }
}
