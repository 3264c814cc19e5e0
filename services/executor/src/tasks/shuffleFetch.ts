import { status } from "@grpc/grpc-js";
import type { Span } from "@opentelemetry/api";
import { describeError, isServiceError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { backoffDelay, sleep } from "@ballast/common/backoff";
import { groupBlocksByAddress, missingLocations, type BlockRequest } from "../core/fetchPlan.js";
import type { ShuffleReadSpec } from "@ballast/common/domain/tasks";
import { failure } from "../core/task.js";
import { FetchedBlockStore, type FetchedBlock } from "./fetchedBlocks.js";
import type { MapOutputRef, ShufflePeer } from "./peers.js";

export interface FetchRetryPolicy {
  maxRetries: number;
  retryWaitMs: number;
  maxRetryWaitMs: number;
}

export interface FetchOptions {
  reads: ShuffleReadSpec[];
  /** The reduce partition this task computes. */
  partition: number;
  /** Per shuffle index, the reduce partition to fetch when it differs from `partition` (a union above a wide dataset). */
  reducePartitions?: ReadonlyMap<number, number>;
  policy: FetchRetryPolicy;
  clientFor(address: string): Pick<ShufflePeer, "streamBlocks">;
  /** Where fetched blocks go as they arrive (default: all in memory). */
  store?: FetchedBlockStore;
  logger: Logger;
  span?: Span;
  signal?: AbortSignal;
  random?: () => number;
}

export interface FetchedBlocks {
  /** Per shuffle index, one block per map output in map index order (in memory or in the store's file). */
  blocks: Record<number, FetchedBlock[]>;
  bytes: number;
  /** Of `bytes`, what went to disk. */
  bytesOnDisk: number;
}

type FetchErrorKind = "unreachable" | "missing" | "corrupt";

interface ClassifiedError {
  kind: FetchErrorKind;
  ref?: MapOutputRef;
  message: string;
}

/**
 * Fetches this task's reduce partition from every map output, once it is the
 * task's turn (the executor's tasks take turns), one stream per shuffle service, all services in parallel, each block handed to the store
 * as it completes (the stream waits while it is written away). A failed fetch
 * from a service is retried for the blocks it had not delivered yet, with
 * exponential backoff and jitter (ballast.shuffle.io.*); a missing block is
 * not retried (waiting will not bring it back). When retries run out the task
 * fails with a FetchFailure naming the map output, so the scheduler can
 * unregister it (or the whole node when unreachable).
 */
export async function fetchShuffleBlocks(options: FetchOptions): Promise<FetchedBlocks> {
  const missing = missingLocations(options.reads);
  if (missing.length > 0) throw failure("executorError", `task launched without locations for ${missing.join(", ")}`);
  const store = options.store ?? new FetchedBlockStore(options.reads, Infinity, "");
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const endTurn = await store.takeFetchTurn(options.signal);
  try {
    await Promise.all([...groupBlocksByAddress(options.reads)].map(([address, requests]) => fetchFromService(address, requests, options, store, signal)));
  } finally {
    endTurn();
    stop.abort(new Error("fetch of this task ended")); // stops the retry loops of other services once one has failed
    await store.close();
  }
  return { blocks: store.blocks, bytes: store.bytes, bytesOnDisk: store.bytesOnDisk };
}

async function fetchFromService(address: string, requests: BlockRequest[], options: FetchOptions, store: FetchedBlockStore, signal: AbortSignal): Promise<void> {
  const client = options.clientFor(address);
  let pending = requests;
  for (let retry = 0; ; retry++) {
    signal.throwIfAborted();
    const wanted = pending.map((r) => ({ ref: refOf(r), partition: options.reducePartitions?.get(r.shuffleIndex) ?? options.partition }));
    let delivered = 0;
    try {
      await client.streamBlocks(wanted, async (index, block) => {
        signal.throwIfAborted();
        await store.keep(pending[index].shuffleIndex, pending[index].location.mapIndex, block);
        delivered = index + 1;
      });
      return;
    } catch (err) {
      signal.throwIfAborted();
      pending = pending.slice(delivered);
      const classified = classify(err);
      if (classified.kind === "missing" || retry >= options.policy.maxRetries) throw fetchFailure(address, pending, classified, retry);
      const delayMs = backoffDelay(retry + 1, { initialMs: options.policy.retryWaitMs, maxMs: options.policy.maxRetryWaitMs }, options.random);
      const details = { address, attempt: retry + 1, maxRetries: options.policy.maxRetries, delayMs, kind: classified.kind, error: classified.message };
      options.logger.warn(details, "shuffle fetch failed; retrying");
      options.span?.addEvent("shuffle.fetch.retry", details);
      await sleep(delayMs, signal);
    }
  }
}

function refOf(request: BlockRequest): MapOutputRef {
  return { shuffleId: request.shuffleId, mapIndex: request.location.mapIndex, attempt: request.location.attempt };
}

/** Reads the shuffle client's ShuffleFetchError (kind + ref), or falls back on the gRPC status. */
function classify(err: unknown): ClassifiedError {
  const message = describeError(err);
  const candidate = err as { kind?: unknown; ref?: MapOutputRef };
  if (candidate && (candidate.kind === "unreachable" || candidate.kind === "missing" || candidate.kind === "corrupt")) {
    return { kind: candidate.kind, ref: candidate.ref, message };
  }
  if (isServiceError(err)) {
    if (err.code === status.NOT_FOUND) return { kind: "missing", message };
    if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) return { kind: "unreachable", message };
  }
  return { kind: "corrupt", message };
}

function fetchFailure(address: string, requests: BlockRequest[], error: ClassifiedError, retries: number) {
  const blamed =
    requests.find((r) => error.ref && r.shuffleId === error.ref.shuffleId && r.location.mapIndex === error.ref.mapIndex) ?? requests[0];
  const unreachable = error.kind === "unreachable";
  const what = unreachable ? `shuffle service ${address} unreachable` : `block ${blamed.shuffleId} map ${blamed.location.mapIndex} ${error.kind} at ${address}`;
  return failure("fetchFailed", `fetch failed after ${retries} retries: ${what}: ${error.message}`, {
    fetch: {
      shuffleId: blamed.shuffleId,
      mapIndex: blamed.location.mapIndex,
      mapAttempt: blamed.location.attempt,
      shuffleAddress: address,
      nodeId: blamed.location.nodeId,
      serviceUnreachable: unreachable,
    },
  });
}
