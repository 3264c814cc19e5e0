import type * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Span } from "@opentelemetry/api";
import type { MigrateMapOutputsRequest, MigrateMapOutputsResponse } from "@ballast/gen/shuffle";
import { describeError, InvalidArgumentError, isServiceError } from "@ballast/common/errors";
import { CHUNK_BYTES } from "@ballast/common/grpc";
import type { Logger } from "@ballast/common/logging";
import { withSpan } from "@ballast/common/telemetry";
import { ShuffleClient } from "@ballast/clients/shuffle";
import { checkSchedulerEpoch, validateSchedulerEpoch } from "../core/epoch.js";
import { validatePeerAddress, validateShuffleId } from "../core/ids.js";
import { CopyError, effectiveParallelism, migrateAll, type MigrationOutcome } from "../core/migration.js";
import type { MapOutputRecord, MapOutputStore } from "../store/mapOutputStore.js";
import { writeRespectingBackpressure } from "./backpressure.js";

/** Per-output time limit when the caller set no deadline. */
const DEFAULT_OUTPUT_DEADLINE_MS = 10 * 60_000;

/** What a peer says about the output itself: the same answer would come from every peer. */
const OUTPUT_FAULT_CODES = new Set<number>([status.DATA_LOSS, status.INVALID_ARGUMENT, status.OUT_OF_RANGE]);

interface Copied {
  bytes: number;
  partitionSizes: number[];
}

/** Refuses a request from a deposed scheduler; otherwise durably records its epoch. */
export async function fenceSchedulerEpoch(store: MapOutputStore, epoch: number): Promise<void> {
  checkSchedulerEpoch(validateSchedulerEpoch(epoch), await store.raiseSchedulerEpoch(epoch));
}

/**
 * MigrateMapOutputs: copies every committed output (of the requested
 * shuffles) to one of the peers and streams one response per output as it
 * lands at the peer or fails on all of them.
 */
export async function migrateMapOutputs(
  store: MapOutputStore,
  logger: Logger,
  request: MigrateMapOutputsRequest,
  call: grpc.ServerWritableStream<MigrateMapOutputsRequest, MigrateMapOutputsResponse>,
): Promise<void> {
  const peers = validatePeers(request.peerAddresses);
  const shuffleIds = [...new Set(request.shuffleIds.map((id) => validateShuffleId(id)))];
  const parallelism = effectiveParallelism(request.parallelism);
  await fenceSchedulerEpoch(store, request.schedulerEpoch);
  const outputs = shuffleIds.length > 0 ? (await Promise.all(shuffleIds.map((id) => store.list(id)))).flat() : await store.list();

  const started = Date.now();
  const totals = { migrated: 0, failed: 0, bytes: 0 };
  const clients = new Map(peers.map((peer) => [peer, new ShuffleClient(peer)]));
  const controller = new AbortController();
  const cancel = () => controller.abort();
  call.on("cancelled", cancel);
  const outputDeadlineMs = outputDeadlineOf(call);
  try {
    await withSpan("shuffle.migrateMapOutputs", { "ballast.migration.outputs": outputs.length, "ballast.migration.peers": peers.join(","), "ballast.migration.parallelism": parallelism }, async (span) => {
      await migrateAll(outputs, {
        peers,
        parallelism,
        signal: controller.signal,
        copy: (record, peer, signal) => copyOutput(store, record, clients.get(peer)!, signal, outputDeadlineMs),
        onAttemptFailed: (record, peer, err) => logger.warn({ ...record.key, peer, err: err.message }, "map output copy to a peer failed"),
        onOutcome: async (outcome) => {
          report(outcome, totals, span, logger);
          await writeRespectingBackpressure(call, responseOf(outcome));
          if (call.cancelled) controller.abort();
        },
      });
      span.setAttributes({ "ballast.migration.migrated": totals.migrated, "ballast.migration.failed": totals.failed, "ballast.migration.bytes": totals.bytes });
    });
  } finally {
    call.off("cancelled", cancel);
    for (const client of clients.values()) client.close();
    const summary = { ...totals, outputs: outputs.length, peers, parallelism, durationMs: Date.now() - started, cancelled: controller.signal.aborted };
    logger.info(summary, "map output migration finished");
  }
}

function validatePeers(addresses: string[]): string[] {
  if (addresses.length === 0) throw new InvalidArgumentError("peer_addresses is required: name at least one peer shuffle service");
  const peers = addresses.map((address, i) => validatePeerAddress(address, `peer_addresses[${i}]`));
  const duplicate = peers.find((peer, i) => peers.indexOf(peer) !== i);
  if (duplicate) throw new InvalidArgumentError(`peer_addresses names ${duplicate} twice`);
  return peers;
}

/** Each copy gets what is left of the caller's deadline (or a default when it set none). */
function outputDeadlineOf(call: grpc.ServerWritableStream<MigrateMapOutputsRequest, MigrateMapOutputsResponse>): () => number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return () => DEFAULT_OUTPUT_DEADLINE_MS;
  return () => Math.max(1, at - Date.now());
}

/** Streams one output from its (consistent, open) data file to a peer, which checks every partition's CRC before committing. */
async function copyOutput(store: MapOutputStore, record: MapOutputRecord, peer: ShuffleClient, signal: AbortSignal, deadlineMs: () => number): Promise<Copied> {
  const reader = await store.openMapOutput(record.key).catch((err: unknown) => {
    throw new CopyError("output", `cannot read it here: ${describeError(err)}`);
  });
  try {
    const partitionSizes = await peer.writeMapOutputChunks(record.key, reader.record.numPartitions, reader.chunks(CHUNK_BYTES), {
      expectedCrc32: reader.record.partitions.map((p) => p.crc32),
      deadlineMs: deadlineMs(),
      signal,
    });
    return { bytes: partitionSizes.reduce((sum, size) => sum + size, 0), partitionSizes };
  } catch (err) {
    throw copyErrorOf(err);
  } finally {
    await reader.close();
  }
}

/** A gRPC status from the peer is the peer's problem unless it is about the bytes; anything else failed here, reading the output. */
function copyErrorOf(err: unknown): CopyError {
  if (!isServiceError(err)) return new CopyError("output", `reading it here failed: ${describeError(err)}`);
  const scope = OUTPUT_FAULT_CODES.has(err.code) ? "output" : "peer";
  return new CopyError(scope, `${status[err.code] ?? err.code}: ${describeError(err)}`);
}

function report(outcome: MigrationOutcome<MapOutputRecord, Copied>, totals: { migrated: number; failed: number; bytes: number }, span: Span, logger: Logger): void {
  const key = outcome.item.key;
  const attributes = { "ballast.shuffle.id": key.shuffleId, "ballast.map.index": key.mapIndex, "ballast.map.attempt": key.attempt };
  if (outcome.ok) {
    totals.migrated++;
    totals.bytes += outcome.result.bytes;
    span.addEvent("map output migrated", { ...attributes, "ballast.migration.peer": outcome.peer, "ballast.migration.bytes": outcome.result.bytes });
    logger.info({ ...key, peer: outcome.peer, bytes: outcome.result.bytes }, "map output migrated");
  } else {
    totals.failed++;
    span.addEvent("map output not migrated", { ...attributes, "ballast.migration.error": outcome.error });
    logger.warn({ ...key, error: outcome.error }, "map output not migrated");
  }
}

function responseOf(outcome: MigrationOutcome<MapOutputRecord, Copied>): MigrateMapOutputsResponse {
  const id = { ...outcome.item.key };
  if (outcome.ok) return { id, newAddress: outcome.peer, bytes: outcome.result.bytes, error: "", partitionSizes: outcome.result.partitionSizes };
  return { id, newAddress: "", bytes: 0, error: outcome.error, partitionSizes: [] };
}
