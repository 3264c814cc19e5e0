/** Argument checks shared by the job context and datasets; failures are JobDefinitionErrors. */
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
