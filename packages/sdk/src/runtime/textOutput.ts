/**
 * The bytes of a text output partition, one line per record. Lines come as strings (formatted
 * records) or as UTF-8 bytes a behavior already holds (sorted lines), in any mix and in order:
 * strings are joined and encoded a piece at a time, bytes are copied without a string between.
 */
import { concatChunks } from "./codec.js";

const LINES_PER_PIECE = 4096;
const BYTES_PER_PIECE = 1024 * 1024;
const NEWLINE = 0x0a;

export class TextOutput {
  private readonly pieces: Uint8Array[] = [];
  private lines: string[] = [];
  private bytes = Buffer.allocUnsafe(0);
  private position = 0;
  private pieceStart = 0;
  recordsOut = 0;

  addLine(line: string): void {
    if (this.lines.length === 0) this.closeBytes();
    this.lines.push(line);
    this.recordsOut++;
    if (this.lines.length >= LINES_PER_PIECE) this.closeLines();
  }

  /** A line that is `source[start, end)` (UTF-8, without its newline). */
  addLineBytes(source: Buffer, start: number, end: number): void {
    this.closeLines();
    const room = end - start + 1;
    if (this.position + room > this.bytes.length) {
      this.closeBytes();
      this.bytes = Buffer.allocUnsafe(Math.max(BYTES_PER_PIECE, room));
      this.position = this.pieceStart = 0;
    }
    this.position += source.copy(this.bytes, this.position, start, end);
    this.bytes[this.position++] = NEWLINE;
    this.recordsOut++;
  }

  finish(): Uint8Array {
    this.closeLines();
    this.closeBytes();
    return concatChunks(this.pieces);
  }

  private closeLines(): void {
    if (this.lines.length === 0) return;
    this.lines.push("");
    this.pieces.push(Buffer.from(this.lines.join("\n"), "utf8"));
    this.lines = [];
  }

  private closeBytes(): void {
    if (this.position === this.pieceStart) return;
    this.pieces.push(this.bytes.subarray(this.pieceStart, this.position));
    this.pieceStart = this.position;
  }
}
