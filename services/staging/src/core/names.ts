import { InvalidArgumentError } from "@ballast/common/errors";
import { OutOfRangeError } from "@ballast/common/errors";
import { idProblem, LIMITS } from "@ballast/common/limits";

/** What a promotion binds and removes (the store's Promotion, checked here without the store). */
export interface PromotionRequest {
  commitId: string;
  bindings: Array<{ name: string; sourceName: string } | { name: string; sha256: string }>;
  removePrefix: string;
}

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

/**
 * A promotion's names are valid, at most LIMITS.promoteBindings of them, none twice, and its
 * removal prefix is a whole directory ("out/", never "" or "out", which would reach other names).
 */
export function validatePromotion<P extends PromotionRequest>(promotion: P): P {
  const idIssue = promotion.commitId === "" ? undefined : idProblem("commit id", promotion.commitId);
  if (idIssue) throw new InvalidArgumentError(idIssue);
  if (promotion.bindings.length > LIMITS.promoteBindings) {
    throw new InvalidArgumentError(`a promotion binds at most ${LIMITS.promoteBindings} names, got ${promotion.bindings.length}`);
  }
  const names = new Set<string>();
  for (const binding of promotion.bindings) {
    if (names.has(validateName(binding.name))) throw new InvalidArgumentError(`a promotion binds ${JSON.stringify(binding.name)} twice`);
    names.add(binding.name);
    if ("sha256" in binding) validateSha256(binding.sha256);
    else validateName(binding.sourceName);
  }
  if (!promotion.removePrefix.endsWith("/")) throw new InvalidArgumentError(`a promotion's remove prefix must be a directory ending in '/', got ${JSON.stringify(promotion.removePrefix.slice(0, 600))}`);
  validateName(promotion.removePrefix.slice(0, -1));
  return promotion;
}
