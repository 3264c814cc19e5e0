/**
 * WriteMapOutput chunk messages encoded by hand around their bytes: one allocation and one copy
 * per chunk where the generated encoder makes three (@ballast/common/wire/preEncoded says why).
 * Migration streams every byte of a decommissioning node's outputs this way, and executors that
 * do not share their node shuffle service's disk their map outputs.
 */
import { makeGenericClientConstructor } from "@grpc/grpc-js";
import { ShuffleServiceClient, ShuffleServiceService } from "@ballast/gen/shuffle";
import { passingPreEncoded, PreEncoded, pushBytesHeader, pushVarintField } from "@ballast/common/wire/preEncoded";

/** WriteMapOutputRequest { chunk (2): WriteChunk { partition (1), data (2) } }. */
export function encodeWriteChunk(partition: number, data: Uint8Array): PreEncoded {
  const chunkHead: number[] = [];
  pushVarintField(chunkHead, 1, partition);
  pushBytesHeader(chunkHead, 2, data.length);
  const head: number[] = [];
  pushBytesHeader(head, 2, chunkHead.length + data.length);
  head.push(...chunkHead);
  const bytes = Buffer.allocUnsafe(head.length + data.length);
  bytes.set(head, 0);
  bytes.set(data, head.length);
  return new PreEncoded(bytes);
}

/** The generated client, but its WriteMapOutput requests may be pre-encoded chunks. */
export const ShuffleServiceClientWithChunks = makeGenericClientConstructor(
  {
    ...ShuffleServiceService,
    writeMapOutput: { ...ShuffleServiceService.writeMapOutput, requestSerialize: passingPreEncoded(ShuffleServiceService.writeMapOutput.requestSerialize) },
  },
  "ballast.v1.ShuffleService",
) as unknown as typeof ShuffleServiceClient;
