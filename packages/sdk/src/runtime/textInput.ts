/**
 * Text input: a file is cut into byte ranges, and the reader of [start, end)
 * owns exactly the lines that START inside it. It skips the partial first
 * line (unless start is 0) and reads past `end` to finish its last line, so
 * every line is read exactly once whatever the split points.
 */
import type { PartitionIO } from "../types.js";
import type { Sink } from "../graph.js";
import { asBuffer } from "./codec.js";

export const TARGET_SPLIT_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MIN_PARTITIONS = 2;
const FIRST_EXTEND_STEP_BYTES = 4 * 1024;
const EXTEND_STEP_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface ByteRange {
  start: number;
  end: number;
}

export function splitCountFor(size: number, minPartitions: number): number {
  return Math.max(minPartitions, Math.ceil(size / TARGET_SPLIT_BYTES));
}

/** Range i of n equal-ish ranges over [0, size), exact for any safe integer size. */
export function byteRangeOf(size: number, count: number, index: number): ByteRange {
  const base = Math.floor(size / count);
  const remainder = size % count;
  const startOf = (i: number): number => i * base + Math.min(i, remainder);
  return { start: startOf(index), end: startOf(index + 1) };
}

/** The text of the lines a split owns: `body` holds whole "\n"-terminated lines, `tail` the last one if it had to be finished past `end`. */
interface SplitText {
  body: string;
  tail: string | undefined;
}

function readSplitText(io: PartitionIO, uri: string, range: ByteRange): SplitText {
  const empty = { body: "", tail: undefined };
  if (range.start >= range.end) return empty;
  // Read one byte before start: a line starts at `start` iff that byte is "\n".
  const readFrom = range.start > 0 ? range.start - 1 : 0;
  const bytes = asBuffer(io.readRange(uri, readFrom, range.end));
  let firstLine = 0;
  if (range.start > 0) {
    const newline = bytes.indexOf(NEWLINE);
    if (newline < 0) return empty;
    firstLine = newline + 1;
  }
  // Owned lines start before `end`, i.e. before the last byte read.
  if (firstLine >= bytes.length) return empty;
  const lastNewline = bytes.lastIndexOf(NEWLINE);
  const bodyEnd = lastNewline >= firstLine ? lastNewline + 1 : firstLine;
  const body = bodyEnd > firstLine ? bytes.toString("utf8", firstLine, bodyEnd) : "";
  if (bodyEnd === bytes.length) return { body, tail: undefined };
  const fileEnd = readFrom + bytes.length;
  return { body, tail: finishLine(io, uri, bytes.subarray(bodyEnd), fileEnd) };
}

/**
 * Reads past the split until a "\n" or EOF, in steps from 4 KiB doubling to 64 KiB (a typical line
 * ends in the first: a sort's sample finishes one per window); returns the whole line without its
 * terminator.
 */
function finishLine(io: PartitionIO, uri: string, head: Buffer, from: number): string {
  const pieces: Buffer[] = [head];
  let position = from;
  let terminated = false;
  for (let step = FIRST_EXTEND_STEP_BYTES; ; step = Math.min(2 * step, EXTEND_STEP_BYTES)) {
    const chunk = asBuffer(io.readRange(uri, position, position + step));
    const newline = chunk.indexOf(NEWLINE);
    if (newline >= 0) {
      pieces.push(chunk.subarray(0, newline));
      terminated = true;
      break;
    }
    pieces.push(chunk);
    if (chunk.length < step) break;
    position += chunk.length;
  }
  let line = Buffer.concat(pieces);
  if (terminated && line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) {
    line = line.subarray(0, line.length - 1);
  }
  return line.toString("utf8");
}

/** Calls sink for each "\n"-terminated line of text, stripping "\n" or "\r\n". */
function forEachLineOf(text: string, sink: Sink): void {
  let from = 0;
  for (;;) {
    const newline = text.indexOf("\n", from);
    if (newline < 0) return;
    const end = newline > from && text.charCodeAt(newline - 1) === CARRIAGE_RETURN ? newline - 1 : newline;
    sink(text.slice(from, end));
    from = newline + 1;
  }
}

export function forEachLineInRange(io: PartitionIO, uri: string, range: ByteRange, sink: Sink): void {
  const { body, tail } = readSplitText(io, uri, range);
  forEachLineOf(body, sink);
  if (tail !== undefined) sink(tail);
}

/** A sort's key sample reads this many windows of a large split (the lines starting in each), not all of it. */
const SAMPLE_WINDOWS = 32;
const SAMPLE_WINDOW_BYTES = 64 * 1024;

/**
 * The lines starting in SAMPLE_WINDOWS windows spread evenly over the range, or all of its lines
 * when the windows would cover much of it; returns the range's bytes per byte of the windows
 * (how many of the range's lines each sampled line stands for, lines being alike in length).
 */
export function forEachSampledLineInRange(io: PartitionIO, uri: string, range: ByteRange, sink: Sink): number {
  const length = range.end - range.start;
  if (length < 2 * SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES) {
    forEachLineInRange(io, uri, range, sink);
    return 1;
  }
  for (let i = 0; i < SAMPLE_WINDOWS; i++) {
    const start = range.start + Math.floor((i * length) / SAMPLE_WINDOWS);
    forEachLineInRange(io, uri, { start, end: start + SAMPLE_WINDOW_BYTES }, sink);
  }
  return length / (SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES);
}

export function* linesInRange(io: PartitionIO, uri: string, range: ByteRange): Generator<string> {
  const { body, tail } = readSplitText(io, uri, range);
  let from = 0;
  for (;;) {
    const newline = body.indexOf("\n", from);
    if (newline < 0) break;
    const end = newline > from && body.charCodeAt(newline - 1) === CARRIAGE_RETURN ? newline - 1 : newline;
    yield body.slice(from, end);
    from = newline + 1;
  }
  if (tail !== undefined) yield tail;
}
