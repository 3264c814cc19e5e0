import { describe, expect, it } from "vitest";
import { crc32 } from "@ballast/common/crc32";
import { DataLossError, InvalidArgumentError } from "@ballast/common/errors";
import { chunkRanges } from "./layout.js";
import { WriteProtocol, type WriteMessage } from "./writeProtocol.js";

const header: WriteMessage = { kind: "header", key: { shuffleId: "job1-sh0", mapIndex: 2, attempt: 0 }, numPartitions: 3 };
const chunk = (partition: number, text: string): WriteMessage => ({ kind: "chunk", partition, data: Buffer.from(text) });

function run(messages: WriteMessage[]) {
  const protocol = new WriteProtocol();
  for (const message of messages) protocol.accept(message);
  return protocol.finish();
}

describe("WriteProtocol", () => {
  it("lays partitions out back to back, spanning chunks and skipping absent ones", () => {
    const { header: h, partitions } = run([header, chunk(0, "ab"), chunk(0, "c"), chunk(2, "defg"), { kind: "commit" }]);
    expect(h.key).toEqual({ shuffleId: "job1-sh0", mapIndex: 2, attempt: 0 });
    expect(partitions.map(({ offset, size }) => [offset, size])).toEqual([[0, 3], [3, 0], [3, 4]]);
    expect(partitions[1]!.crc32).toBe(0);
  });

  it.each([
    ["a chunk before the header", [chunk(0, "x")], /header must come first/],
    ["a second header", [header, header], /header sent twice/],
    ["a partition out of range", [header, chunk(3, "x")], /out of range/],
    ["descending partitions", [header, chunk(1, "x"), chunk(0, "y")], /ascending order/],
    ["an empty message", [header, { kind: "empty" } as WriteMessage], /must set header, chunk or commit/],
    ["a message after commit", [header, { kind: "commit" } as WriteMessage, chunk(0, "x")], /no message may follow commit/],
    ["an empty shuffle id", [{ ...header, key: { shuffleId: "", mapIndex: 0, attempt: 0 } } as WriteMessage], /shuffle_id is required/],
    ["a path in the shuffle id", [{ ...header, key: { shuffleId: "../etc", mapIndex: 0, attempt: 0 } } as WriteMessage], /malformed/],
    ["zero partitions", [{ ...header, numPartitions: 0 } as WriteMessage], /num_partitions/],
  ])("rejects %s", (_name, messages, message) => {
    const feed = () => {
      const protocol = new WriteProtocol();
      for (const m of messages as WriteMessage[]) protocol.accept(m);
    };
    expect(feed).toThrow(InvalidArgumentError);
    expect(feed).toThrow(message as RegExp);
  });

  it("checks each partition against the CRC-32 the sender expected", () => {
    const expected = [crc32(Buffer.from("ab")), 0, crc32(Buffer.from("cd"))];
    const withCrcs = (crcs: number[]): WriteMessage => ({ ...(header as Extract<WriteMessage, { kind: "header" }>), expectedCrc32: crcs });
    expect(run([withCrcs(expected), chunk(0, "ab"), chunk(2, "cd"), { kind: "commit" }]).partitions).toHaveLength(3);
    const finish = () => run([withCrcs(expected), chunk(0, "ab"), chunk(2, "cX"), { kind: "commit" }]);
    expect(finish).toThrow(DataLossError);
    expect(finish).toThrow(/^partition 2: crc mismatch/);
    expect(() => new WriteProtocol().accept(withCrcs([1, 2]))).toThrow(/expected_crc32 has 2 entries but num_partitions is 3/);
  });

  it("refuses to finish without a commit", () => {
    expect(() => run([header, chunk(0, "x")])).toThrow(/ended before commit/);
    expect(() => run([])).toThrow(/ended before the header/);
  });
});

describe("chunkRanges", () => {
  it("splits a block and marks the last chunk; an empty block is one empty last chunk", () => {
    expect(chunkRanges(10, 5, 2)).toEqual([
      { offset: 10, length: 2, last: false },
      { offset: 12, length: 2, last: false },
      { offset: 14, length: 1, last: true },
    ]);
    expect(chunkRanges(7, 0, 2)).toEqual([{ offset: 7, length: 0, last: true }]);
  });
});
