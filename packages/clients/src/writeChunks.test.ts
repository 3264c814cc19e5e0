import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { WriteMapOutputRequest } from "@ballast/gen/shuffle";
import { ShuffleServiceClientWithChunks, encodeWriteChunk } from "./writeChunks.js";

describe("WriteMapOutput chunks encoded by hand", () => {
  for (const [name, partition, data] of [
    ["partition 0's chunk", 0, randomBytes(1000)],
    ["a 1 MiB chunk of partition 300", 300, randomBytes(1024 * 1024)],
    ["an empty chunk", 7, Buffer.alloc(0)],
  ] as const) {
    it(`decodes as the generated encoder's message: ${name}`, () => {
      const serialize = ShuffleServiceClientWithChunks.service.writeMapOutput.requestSerialize as (value: unknown) => Buffer;
      const decoded = WriteMapOutputRequest.decode(serialize(encodeWriteChunk(partition, data)));
      expect(decoded.message?.$case).toBe("chunk");
      const chunk = decoded.message?.$case === "chunk" ? decoded.message.value : undefined;
      expect({ partition: chunk?.partition, data: Buffer.from(chunk?.data ?? []) }).toEqual({ partition, data });
    });
  }

  it("encodes other requests as generated", () => {
    const serialize = ShuffleServiceClientWithChunks.service.writeMapOutput.requestSerialize as (value: unknown) => Buffer;
    const commit: WriteMapOutputRequest = { message: { $case: "commit", value: {} } };
    expect(serialize(commit)).toEqual(Buffer.from(WriteMapOutputRequest.encode(commit).finish()));
  });
});
