/** Argument checks shared by the job context and datasets; failures are JobDefinitionErrors. */
import { STORAGE_LEVELS, type StorageLevel } from "@ballast/common/plan";
import { JobDefinitionError } from "./errors.js";

export const MAX_PARTITIONS = 100_000;

export function checkPartitionCount(op: string, value: unknown, what = "partitions"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_PARTITIONS) {
    throw new JobDefinitionError(
      `${op}: ${what} must be an integer from 1 to ${MAX_PARTITIONS}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}

const URI_SCHEMES = /^(file:\/\/\/|staging:\/\/)./;

export function checkInputUri(op: string, uri: unknown): string {
  if (typeof uri !== "string" || !URI_SCHEMES.test(uri)) {
    throw new JobDefinitionError(
      `${op}: expected a file:///absolute/path or staging://name URI, got ${JSON.stringify(uri) ?? String(uri)}`,
    );
  }
  return uri;
}

export function checkOutputUri(uri: unknown): string {
  return checkInputUri("saveAsTextFile", uri);
}

export function checkCount(op: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new JobDefinitionError(`${op}: n must be a non-negative integer, got ${JSON.stringify(n) ?? String(n)}`);
  }
  return n;
}

export function checkFraction(op: string, fraction: unknown): number {
  if (typeof fraction !== "number" || !(fraction >= 0 && fraction <= 1)) {
    throw new JobDefinitionError(`${op}: fraction must be a number from 0 to 1, got ${JSON.stringify(fraction) ?? String(fraction)}`);
  }
  return fraction;
}

export function checkStorageLevel(level: unknown): StorageLevel {
  if (!STORAGE_LEVELS.includes(level as never)) {
    throw new JobDefinitionError(`persist: level must be one of ${STORAGE_LEVELS.map((l) => `"${l}"`).join(", ")}, got ${JSON.stringify(level) ?? String(level)}`);
  }
  return level as StorageLevel;
}
