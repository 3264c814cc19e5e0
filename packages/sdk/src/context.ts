/**
 * The `ctx` a job's build function receives: job arguments and the sources
 * (textFile, parallelize, range).
 */
import { createHash } from "node:crypto";
import { userCallSite } from "./callSite.js";
import { Dataset } from "./dataset.js";
import { JobDefinitionError } from "./errors.js";
import type { Graph } from "./graph.js";
import { packForFingerprint } from "./runtime/codec.js";
import { parallelizeBehavior, rangeBehavior, textFileBehavior } from "./runtime/narrow.js";
import { DEFAULT_MIN_PARTITIONS, splitCountFor } from "./runtime/textInput.js";
import { checkInputUri, checkPartitionCount } from "./validate.js";

export const DEFAULT_PARALLELISM = 2;

/** Parses `--name value` and `--name=value` pairs. */
export function parseJobArgs(args: readonly string[]): Map<string, string> {
  const named = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--") || arg.length === 2) continue;
    const equals = arg.indexOf("=");
    if (equals > 0) named.set(arg.slice(2, equals), arg.slice(equals + 1));
    else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) named.set(arg.slice(2), args[++i]!);
    else named.set(arg.slice(2), "true");
  }
  return named;
}

export class JobContext {
  private readonly named: Map<string, string>;

  /** @internal */
  constructor(
    private readonly graph: Graph,
    /** The raw job arguments (what follows `--` on the CLI). */
    readonly args: readonly string[],
    private readonly inputSize: (uri: string) => number,
  ) {
    this.named = parseJobArgs(args);
  }

  /** The value of `--name`; without a default, a missing argument is an error. */
  arg(name: string, defaultValue?: string): string {
    const value = this.named.get(name);
    if (value !== undefined) return value;
    if (defaultValue !== undefined) return defaultValue;
    throw new JobDefinitionError(`job "${this.graph.jobName}": missing job argument --${name}`);
  }

  /** Lines of a text file (file:///abs/path or staging://name), split into byte ranges. */
  textFile(uri: string, options?: { minPartitions?: number }): Dataset<string> {
    const callSite = userCallSite();
    checkInputUri("textFile", uri);
    const minPartitions = checkPartitionCount("textFile", options?.minPartitions ?? DEFAULT_MIN_PARTITIONS, "minPartitions");
    const size = this.inputSize(uri);
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new JobDefinitionError(`textFile: cannot determine the size of ${uri}`);
    }
    const numPartitions = checkPartitionCount("textFile", splitCountFor(size, minPartitions));
    const behavior = textFileBehavior(uri, size, numPartitions);
    return this.source({ op: "textFile", parents: [], numPartitions, callSite, uri, inputSize: size, behavior });
  }

  /** The elements of `data`, in order, in `numPartitions` contiguous slices. */
  parallelize<T>(data: readonly T[], numPartitions = DEFAULT_PARALLELISM): Dataset<T> {
    const callSite = userCallSite();
    if (!Array.isArray(data)) throw new JobDefinitionError("parallelize expects an array");
    checkPartitionCount("parallelize", numPartitions);
    const copy = data.slice();
    const behavior = parallelizeBehavior(copy, numPartitions);
    const fingerprint = (): string => fingerprintOf(copy);
    return this.source({ op: "parallelize", parents: [], numPartitions, callSite, behavior, fingerprint });
  }

  /** The numbers 0 .. count-1 in `numPartitions` contiguous slices. */
  range(count: number, numPartitions = DEFAULT_PARALLELISM): Dataset<number> {
    const callSite = userCallSite();
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new JobDefinitionError(`range expects a non-negative integer count, got ${String(count)}`);
    }
    checkPartitionCount("range", numPartitions);
    const behavior = rangeBehavior(count, numPartitions);
    return this.source({ op: "range", parents: [], numPartitions, callSite, behavior, fingerprint: () => `range:${count}` });
  }

  private source<T>(spec: Parameters<Graph["add"]>[0]): Dataset<T> {
    return new Dataset<T>(this.graph, this.graph.add(spec));
  }
}

function fingerprintOf(data: readonly unknown[]): string {
  try {
    return createHash("sha256").update(packForFingerprint(data)).digest("hex");
  } catch {
    return `length:${data.length}`;
  }
}
