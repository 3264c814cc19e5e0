import { describe, expect, it } from "vitest";
import type { PartitionIO } from "../types.js";
import { byteRangeOf, forEachLineInRange, forEachSampledLineInRange, linesInRange, splitCountFor, TARGET_SPLIT_BYTES } from "./textInput.js";

/** A seeded PRNG so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function ioOver(content: Buffer, reads: { bytes: number } = { bytes: 0 }): PartitionIO {
  return {
    readRange(_uri, start, end) {
      const slice = content.subarray(start, Math.min(end, content.length));
      reads.bytes += slice.length;
      return slice;
    },
    shuffleBlocks: () => [],
  };
}

/** What reading a file line by line must give: "\n" or "\r\n" stripped, no empty line after a final "\n". */
function expectedLines(text: string): string[] {
  const parts = text.split("\n");
  const last = parts.pop()!;
  const lines = parts.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  if (last !== "") lines.push(last);
  return lines;
}

function readAll(content: Buffer, splits: number, pull = false): string[] {
  const io = ioOver(content);
  const lines: string[] = [];
  for (let i = 0; i < splits; i++) {
    const range = byteRangeOf(content.length, splits, i);
    if (pull) lines.push(...linesInRange(io, "staging://x", range));
    else forEachLineInRange(io, "staging://x", range, (line) => lines.push(line as string));
  }
  return lines;
}

function randomText(next: () => number, lineCount: number, longLines: boolean): string {
  const alphabet = ["a", "b", " ", "é", "€", "😀", "x", "\r"];
  const lines: string[] = [];
  for (let i = 0; i < lineCount; i++) {
    const length = longLines && next() < 0.05 ? 70_000 + Math.floor(next() * 100_000) : Math.floor(next() * 40);
    let line = "";
    for (let j = 0; j < length; j++) line += alphabet[Math.floor(next() * alphabet.length)];
    lines.push(line + (next() < 0.3 ? "\r" : ""));
  }
  return lines.join("\n") + (next() < 0.5 ? "\n" : "");
}

describe("byte ranges", () => {
  it("cover [0, size) exactly with contiguous ranges", () => {
    for (const [size, count] of [[0, 3], [10, 3], [7, 7], [3, 8], [1_000_003, 13]] as const) {
      let previousEnd = 0;
      for (let i = 0; i < count; i++) {
        const { start, end } = byteRangeOf(size, count, i);
        expect(start).toBe(previousEnd);
        expect(end).toBeGreaterThanOrEqual(start);
        previousEnd = end;
      }
      expect(previousEnd).toBe(size);
    }
  });

  it("uses minPartitions or one split per 32 MiB", () => {
    expect(splitCountFor(0, 2)).toBe(2);
    expect(splitCountFor(TARGET_SPLIT_BYTES * 3 + 1, 2)).toBe(4);
    expect(splitCountFor(100, 8)).toBe(8);
  });
});

describe("reading splits", () => {
  it("reads every line exactly once for random texts and many split counts", () => {
    const next = random(42);
    for (let round = 0; round < 12; round++) {
      const text = randomText(next, 1 + Math.floor(next() * 60), false);
      const content = Buffer.from(text, "utf8");
      const expected = expectedLines(text);
      for (const splits of [1, 2, 3, 5, 8, 13, 64, content.length + 3]) {
        expect(readAll(content, splits), `round ${round}, ${splits} splits`).toEqual(expected);
      }
    }
  });

  it("finishes lines longer than the 64 KiB read-ahead step, in push and pull form", () => {
    const next = random(7);
    const text = randomText(next, 40, true);
    const content = Buffer.from(text, "utf8");
    const expected = expectedLines(text);
    for (const splits of [1, 4, 9, 31]) {
      expect(readAll(content, splits)).toEqual(expected);
      expect(readAll(content, splits, true)).toEqual(expected);
    }
  });

  it("handles CRLF, empty lines, a missing final newline and a lone CR", () => {
    const cases = ["a\r\nb\r\n", "a\r\n\r\nb", "\n\n\n", "x", "", "\r\n", "a\rb\n", "last\r"];
    for (const text of cases) {
      const content = Buffer.from(text, "utf8");
      for (const splits of [1, 2, 3, 7]) expect(readAll(content, splits), JSON.stringify(text)).toEqual(expectedLines(text));
    }
    expect(readAll(Buffer.from("a\r\nb\r\n"), 1)).toEqual(["a", "b"]);
    expect(readAll(Buffer.from("last\r"), 1)).toEqual(["last\r"]);
  });

  it("reads little more than its own range when lines are short", () => {
    const content = Buffer.from("0123456789\n".repeat(100_000));
    const reads = { bytes: 0 };
    const io = ioOver(content, reads);
    let count = 0;
    const splits = 10;
    for (let i = 0; i < splits; i++) {
      forEachLineInRange(io, "u", byteRangeOf(content.length, splits, i), () => count++);
    }
    expect(count).toBe(100_000);
    expect(reads.bytes).toBeLessThanOrEqual(content.length + splits * (64 * 1024 + 1));
  });

  it("tolerates a file that is shorter than its planned size", () => {
    const content = Buffer.from("a\nb\nc\n");
    const io = ioOver(content);
    const lines: unknown[] = [];
    for (let i = 0; i < 4; i++) forEachLineInRange(io, "u", byteRangeOf(20, 4, i), (line) => lines.push(line));
    expect(lines).toEqual(["a", "b", "c"]);
  });
});

describe("sampled lines (a sort's key sample)", () => {
  const numbered = (count: number) => Buffer.from(Array.from({ length: count }, (_, i) => `line ${String(i).padStart(7, "0")} ${"x".repeat(i % 50)}`).join("\n") + "\n");

  it("reads whole lines from windows spread over a large split, a small share of its bytes, and says what each stands for", () => {
    const content = numbered(400_000); // about 15 MB: splits of twice the windows and more
    const range = { start: 0, end: content.length };
    const reads = { bytes: 0 };
    const sampled: string[] = [];
    const scale = forEachSampledLineInRange(ioOver(content, reads), "staging://x", range, (line) => sampled.push(line as string));
    const all = expectedLines(content.toString());
    const owned = new Set(all);
    expect(sampled.every((line) => owned.has(line)), "only whole lines of the split").toBe(true);
    expect(new Set(sampled).size).toBe(sampled.length);
    expect(reads.bytes).toBeLessThan(content.length / 3); // windows, and a little past each to finish its last line
    // Spread over the split: from its first and its last thirty-second.
    expect(sampled[0]).toBe(all[0]);
    expect(all.indexOf(sampled.at(-1)!)).toBeGreaterThan(all.length * (31 / 32) - 1);
    expect(sampled.length * scale).toBeGreaterThan(all.length * 0.9);
    expect(sampled.length * scale).toBeLessThan(all.length * 1.1);
  });

  it("reads every line of a split too small to sample, standing for itself", () => {
    const content = numbered(1000);
    const sampled: string[] = [];
    const scale = forEachSampledLineInRange(ioOver(content), "staging://x", { start: 0, end: content.length }, (line) => sampled.push(line as string));
    expect(scale).toBe(1);
    expect(sampled).toEqual(expectedLines(content.toString()));
  });
});
