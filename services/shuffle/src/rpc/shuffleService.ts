import type * as grpc from "@grpc/grpc-js";
import {
  ShuffleServiceService,
  type AdoptMapOutputResponse,
  type DescribeLocalStoreResponse,
  type FetchBlocksRequest,
  type LocateBlocksResponse,
  type FetchBlocksResponse,
  type ListMapOutputsResponse,
  type MapOutputInfo,
  type RemoveShuffleResponse,
  type ShuffleServiceServer,
  type WriteMapOutputRequest,
  type WriteMapOutputResponse,
} from "@ballast/gen/shuffle";
import { CHUNK_BYTES, clientStream, serverStream, unary, type ServiceBinding } from "@ballast/common/grpc";
import { BallastError, FailedPreconditionError, InternalError, UnavailableError } from "@ballast/common/errors";
import type { Logger } from "@ballast/common/logging";
import { withSpan } from "@ballast/common/telemetry";
import { describeMapOutput, validateMapOutputKey, validateShuffleId, type MapOutputKey } from "../core/ids.js";
import { WriteProtocol, type WriteMessage } from "../core/writeProtocol.js";
import { writeRespectingBackpressure } from "./backpressure.js";
import { chunkBuffer, encodeChunkInPlace, serializeFetchResponse } from "./fetchChunks.js";
import type { PreEncoded } from "@ballast/common/wire/preEncoded";
import { fenceSchedulerEpoch, migrateMapOutputs } from "./migrate.js";
import type { HostLocalAccess, MapOutputRecord, MapOutputStore, MapOutputWriter } from "../store/mapOutputStore.js";
import { withStrictDecoding } from "@ballast/common/wire/decode";

/** The ShuffleService gRPC adapter: wire messages in, domain calls on the store, wire messages out. */
export function shuffleServiceBinding(store: MapOutputStore, logger: Logger): ServiceBinding {
  const implementation: ShuffleServiceServer = {
    writeMapOutput: clientStream((call) => writeMapOutput(store, logger, call)),
    fetchBlocks: serverStream((request, call) => fetchBlocks(store, request, call)),
    listMapOutputs: unary(async (request): Promise<ListMapOutputsResponse> => {
      const shuffleId = request.shuffleId ? validateShuffleId(request.shuffleId) : undefined;
      return { outputs: (await store.list(shuffleId)).map(infoOf) };
    }),
    removeShuffle: unary(async (request): Promise<RemoveShuffleResponse> => {
      const shuffleId = validateShuffleId(request.shuffleId);
      await fenceSchedulerEpoch(store, request.schedulerEpoch);
      const removed = await store.removeShuffle(shuffleId);
      logger.info({ shuffleId, removed, schedulerEpoch: request.schedulerEpoch }, "shuffle removed");
      return { removed };
    }),
    migrateMapOutputs: serverStream((request, call) => migrateMapOutputs(store, logger, request, call)),
    describeLocalStore: unary(async (): Promise<DescribeLocalStoreResponse> => hostLocalOf(store).describe()),
    adoptMapOutput: unary(async (request): Promise<AdoptMapOutputResponse> => {
      const key = validateMapOutputKey(request.id, "id");
      const record = await hostLocalOf(store).adopt(key, request.stagedName, request.partitionSizes, request.partitionCrc32);
      logger.debug({ ...key, bytes: totalBytes(record) }, "host-local map output adopted");
      return { partitionSizes: record.partitions.map((p) => p.size) };
    }),
    locateBlocks: unary(async (request): Promise<LocateBlocksResponse> => {
      const local = hostLocalOf(store);
      return { locations: request.blocks.map((block, i) => local.locate(validateMapOutputKey(block.mapOutput, `blocks[${i}].map_output`), block.partition)) };
    }),
  };
  const definition = { ...ShuffleServiceService, fetchBlocks: { ...ShuffleServiceService.fetchBlocks, responseSerialize: serializeFetchResponse } };
  return withStrictDecoding({ name: "ballast.v1.ShuffleService", definition, implementation });
}

function messageOf(request: WriteMapOutputRequest): WriteMessage {
  const message = request.message;
  switch (message?.$case) {
    case "header":
      return { kind: "header", key: message.value.id, numPartitions: message.value.numPartitions, expectedCrc32: message.value.expectedCrc32 };
    case "chunk":
      return { kind: "chunk", partition: message.value.partition, data: message.value.data };
    case "commit":
      return { kind: "commit" };
    default:
      return { kind: "empty" };
  }
}

async function writeMapOutput(
  store: MapOutputStore,
  logger: Logger,
  call: grpc.ServerReadableStream<WriteMapOutputRequest, WriteMapOutputResponse>,
): Promise<WriteMapOutputResponse> {
  const protocol = new WriteProtocol();
  let writer: MapOutputWriter | undefined;
  try {
    for await (const request of call) {
      const step = protocol.accept(messageOf(request));
      if (step.action === "begin") writer = await store.beginWrite(step.header.key);
      else if (step.action === "append") await writer!.append(step.data);
    }
    // A cancelled call ends the iteration early on some paths; it must not commit.
    if (call.cancelled) throw new UnavailableError("WriteMapOutput was cancelled before commit: nothing written");
    const { header, partitions } = protocol.finish();
    const record = await withSpan("shuffle.commitMapOutput", { "ballast.shuffle.id": header.key.shuffleId, "ballast.map.index": header.key.mapIndex }, () =>
      writer!.commit(partitions),
    );
    logger.debug({ ...header.key, bytes: totalBytes(record) }, "map output committed");
    return { partitionSizes: record.partitions.map((p) => p.size) };
  } catch (err) {
    await writer?.abort();
    throw err;
  }
}

async function fetchBlocks(
  store: MapOutputStore,
  request: FetchBlocksRequest,
  call: grpc.ServerWritableStream<FetchBlocksRequest, FetchBlocksResponse>,
): Promise<void> {
  const blocks = request.blocks.map((block, i) => ({ key: validateMapOutputKey(block.mapOutput, `blocks[${i}].map_output`), partition: block.partition }));
  // Blocks are opened one by one, in order, so a client can tell which block an error is about.
  for (const [blockIndex, block] of blocks.entries()) {
    if (call.cancelled) return;
    await sendBlock(store, block.key, block.partition, blockIndex, call);
  }
}

async function sendBlock(
  store: MapOutputStore,
  key: MapOutputKey,
  partition: number,
  blockIndex: number,
  call: grpc.ServerWritableStream<FetchBlocksRequest, FetchBlocksResponse>,
): Promise<void> {
  const reader = await store.openBlock(key, partition);
  try {
    for await (const chunk of reader.chunks(CHUNK_BYTES, chunkBuffer)) {
      const fields = { blockIndex, last: chunk.last, size: chunk.last ? reader.size : 0, crc32: chunk.last ? reader.crc32 : 0 };
      const response = chunk.allocated
        ? encodeChunkInPlace(chunk.allocated, chunk.data.length, fields)
        : { ...fields, data: Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength) };
      // serializeFetchResponse (the binding's serializer) sends a pre-encoded chunk as it is.
      await writeRespectingBackpressure(call as grpc.ServerWritableStream<FetchBlocksRequest, FetchBlocksResponse | PreEncoded>, response);
      if (call.cancelled) return;
    }
  } catch (err) {
    if (err instanceof BallastError) throw err;
    throw new InternalError(`reading ${describeMapOutput(key)} partition ${partition}: ${(err as Error).message}`);
  } finally {
    await reader.close();
  }
}

function hostLocalOf(store: MapOutputStore): HostLocalAccess {
  if (!store.hostLocal) throw new FailedPreconditionError("this shuffle service's store offers no host-local access: stream map outputs and blocks");
  return store.hostLocal;
}

function infoOf(record: MapOutputRecord): MapOutputInfo {
  return { id: record.key, partitionSizes: record.partitions.map((p) => p.size), committedAtMs: record.committedAtMs };
}

function totalBytes(record: MapOutputRecord): number {
  return record.partitions.reduce((sum, p) => sum + p.size, 0);
}
