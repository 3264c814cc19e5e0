import { InvalidArgumentError } from "@ballast/common/errors";
import { OutOfRangeError } from "@ballast/common/errors";

export const MAX_NAME_LENGTH = 512;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const PREFIX_CHARS = /^[A-Za-z0-9._/-]*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A blob name is a relative path like "inputs/corpus.txt"; anything that could escape a directory is refused. */
export function validateName(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw new InvalidArgumentError(`invalid name ${JSON.stringify(name.slice(0, 600))}: ${problem}`);
  return name;
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "empty";
  if (name.length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters`;
  if (name.startsWith("/")) return "must be relative (no leading '/')";
  for (const segment of name.split("/")) {
    if (segment === "") return "empty path segment";
    if (segment === "." || segment === "..") return `'${segment}' segment not allowed`;
    if (!SEGMENT.test(segment)) return "segments may only contain A-Z a-z 0-9 . _ -";
  }
  return undefined;
}

/** A List prefix may end mid-segment ("inputs/cor"), so it is checked by characters only. */
export function validatePrefix(prefix: string): string {
  if (prefix.length > MAX_NAME_LENGTH || !PREFIX_CHARS.test(prefix)) {
    throw new InvalidArgumentError(`invalid name prefix ${JSON.stringify(prefix.slice(0, 600))}`);
  }
  return prefix;
}

export function validateSha256(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) {
    throw new InvalidArgumentError(`invalid sha256 ${JSON.stringify(sha256.slice(0, 100))}: expected 64 lowercase hex characters`);
  }
  return sha256;
}

/** How a request names a blob: by one of its names or by its digest. */
export type BlobRef = { name: string } | { sha256: string };

/** Turns the wire's two optional fields into exactly one reference. */
export function blobRefOf(name: string, sha256: string): BlobRef {
  if (name && sha256) throw new InvalidArgumentError("give either a name or a sha256, not both");
  if (name) return { name: validateName(name) };
  if (sha256) return { sha256: validateSha256(sha256) };
  throw new InvalidArgumentError("a name or a sha256 is required");
}

export interface ByteRange {
  start: number;
  /** Exclusive. */
  end: number;
}

/** The bytes [offset, offset+length) of a blob of `size` bytes; length 0 means to the end. */
export function resolveRange(size: number, offset: number, length: number): ByteRange {
  if (offset < 0 || length < 0) throw new InvalidArgumentError("offset and length must not be negative");
  if (offset > size) throw new OutOfRangeError(`offset ${offset} is past the end of the blob (${size} bytes)`);
  if (length === 0) return { start: offset, end: size };
  if (offset + length > size) {
    throw new OutOfRangeError(`range ${offset}+${length} is past the end of the blob (${size} bytes)`);
  }
  return { start: offset, end: offset + length };
}
