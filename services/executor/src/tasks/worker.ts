/**
 * A task worker thread: imports the job bundle (once per digest), rebuilds the
 * job's graph, checks it matches the scheduler's plan, and runs one partition.
 * User code runs here so that a busy or crashing task never stalls the
 * executor's main thread (heartbeats, other tasks).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";
import { trimStack } from "../core/stack.js";
import { readFetchedBlocks } from "./fetchedBlocks.js";
import { prepareTransfer, type CacheActivity, type CacheBlockWrite, type PartitionOutput, type SpillCounts, type WorkerErrorKind, type WorkerJobContext, type WorkerTaskMessage, type WorkerTaskRequest, type WorkerTaskResponse } from "./protocol.js";

// Stack frames of user code point at their .ts files through the bundle's inline source map.
process.setSourceMapsEnabled(true);

interface BuiltJobLike {
  plan: { graphHash: string };
  runPartition(task: WorkerTaskRequest["task"], io: PartitionIOLike): PartitionOutput;
}

/**
 * Structural view of the SDK's JobDefinition or AppDefinition (the bundle has
 * its own SDK copy). An app's buildPlan replays its driver program to the
 * plan's action, so it is asynchronous.
 */
interface JobDefinitionLike {
  kind: "ballast-job" | "ballast-app";
  name: string;
  buildPlan(options: {
    args: string[];
    inputSize: (uri: string) => number;
    driver?: WorkerJobContext["driver"];
  }): BuiltJobLike | Promise<BuiltJobLike>;
}

interface PartitionIOLike {
  readRange(uri: string, start: number, end: number): Uint8Array;
  shuffleBlocks(shuffleIndex: number): Iterable<Uint8Array>;
  cache?: {
    read(cacheKey: string, partition: number): Uint8Array | undefined;
    write(cacheKey: string, partition: number, level: CacheBlockWrite["level"], block: Uint8Array): void;
  };
  spill?: { memoryLimit: number; dir: string; onSpill?(bytes: number): void };
}

class WorkerTaskError extends Error {
  constructor(readonly kind: WorkerErrorKind, message: string) {
    super(message);
  }
}

const EXECUTOR_SOURCE_DIR = new URL("..", import.meta.url);
const HIDDEN_FRAMES = [EXECUTOR_SOURCE_DIR.pathname, EXECUTOR_SOURCE_DIR.href, "tsx/dist", "node:worker_threads"];

const definitions = new Map<string, Promise<JobDefinitionLike>>();

function loadDefinition(digest: string, path: string): Promise<JobDefinitionLike> {
  let loaded = definitions.get(digest);
  if (!loaded) {
    loaded = import(pathToFileURL(path).href).then((module) => {
      const definition = module.default as JobDefinitionLike | undefined;
      const known = definition?.kind === "ballast-job" || definition?.kind === "ballast-app";
      if (!known || typeof definition.buildPlan !== "function") {
        throw new WorkerTaskError("invalid_bundle", "the job bundle's default export is not a job definition (export default job(...) or app(...))");
      }
      return definition;
    });
    loaded.catch(() => definitions.delete(digest));
    definitions.set(digest, loaded);
  }
  return loaded;
}

/** Synchronous ranged reads of the task's local input files, opened lazily and closed after the task. */
class LocalInputs implements PartitionIOLike {
  private readonly files = new Map<string, { fd: number; size: number }>();
  bytesRead = 0;
  readonly spilled: SpillCounts = { spills: 0, spilledBytes: 0 };
  readonly spill: NonNullable<PartitionIOLike["spill"]>;
  /** Only jobs of an application keep partitions (the SDK computes without a cache otherwise). */
  readonly cache?: NonNullable<PartitionIOLike["cache"]>;
  readonly cacheActivity: CacheActivity = { reads: 0, writes: [] };

  constructor(private readonly request: WorkerTaskMessage) {
    this.spill = {
      ...request.spill,
      onSpill: (bytes) => {
        this.spilled.spills++;
        this.spilled.spilledBytes += bytes;
      },
    };
    const offered = request.cached;
    if (offered) {
      this.cache = {
        read: (cacheKey, partition) => {
          const block = offered[`${cacheKey}/${partition}`];
          if (block) this.cacheActivity.reads++;
          return block;
        },
        write: (cacheKey, partition, level, block) => this.cacheActivity.writes.push({ cacheKey, partition, level, block }),
      };
    }
  }

  readRange(uri: string, start: number, end: number): Uint8Array {
    const file = this.open(uri);
    const from = Math.max(0, Math.min(start, file.size));
    const to = Math.max(from, Math.min(end, file.size));
    const bytes = new Uint8Array(to - from);
    let filled = 0;
    while (filled < bytes.length) {
      const n = readSync(file.fd, bytes, filled, bytes.length - filled, from + filled);
      if (n === 0) break;
      filled += n;
    }
    this.bytesRead += filled;
    return filled === bytes.length ? bytes : bytes.subarray(0, filled);
  }

  /** Read as the merge goes: blocks the fetch wrote to disk come into memory one at a time. */
  shuffleBlocks(shuffleIndex: number): Iterable<Uint8Array> {
    const blocks = this.request.blocks[shuffleIndex];
    if (!blocks) throw new Error(`this task has no fetched blocks for shuffle ${shuffleIndex}`);
    return { [Symbol.iterator]: () => readFetchedBlocks(blocks) };
  }

  close(): void {
    for (const { fd } of this.files.values()) closeSync(fd);
    this.files.clear();
  }

  private open(uri: string): { fd: number; size: number } {
    let file = this.files.get(uri);
    if (!file) {
      const path = this.request.localPaths[uri];
      if (!path) throw new Error(`input ${uri} was not prepared for this task`);
      const fd = openSync(path, "r");
      file = { fd, size: fstatSync(fd).size };
      this.files.set(uri, file);
    }
    return file;
  }
}

/** Rebuilt graphs by bundle, args and inputs (every task of a job rebuilds the same one), at most MAX_BUILT_JOBS, LRU. */
const builtJobs = new Map<string, BuiltJobLike>();
const MAX_BUILT_JOBS = 16;

/** The job context this worker got last, and its key in builtJobs (made once per job, not per task). */
let currentJob: { number: number; context: WorkerJobContext; key: string } | undefined;

/** The message's job context: sent with it, or the one before when the pool left it out (workerPool messageFor). */
function jobOf(message: WorkerTaskMessage): { context: WorkerJobContext; key: string } {
  if (message.job) {
    const { bundleDigest, graphHash, args, inputs } = message.job;
    currentJob = { number: message.jobNumber, context: message.job, key: JSON.stringify([bundleDigest, graphHash, args, inputs]) };
  }
  if (currentJob?.number !== message.jobNumber) throw new Error(`executor error: task ${message.taskId} came without its job's context (job ${message.jobNumber})`);
  return currentJob;
}

async function runTask(request: WorkerTaskMessage): Promise<{ output: PartitionOutput; inputBytes: number; spilled: SpillCounts; cache: CacheActivity }> {
  const built = await builtJobFor(jobOf(request));
  const io = new LocalInputs(request);
  try {
    return { output: built.runPartition(request.task, io), inputBytes: io.bytesRead, spilled: io.spilled, cache: io.cacheActivity };
  } finally {
    io.close();
  }
}

async function builtJobFor({ context, key }: { context: WorkerJobContext; key: string }): Promise<BuiltJobLike> {
  const cached = builtJobs.get(key);
  if (cached) {
    builtJobs.delete(key); // re-inserted last: the map's order is least recently used first
    builtJobs.set(key, cached);
    return cached;
  }
  const built = await buildAndCheck(context);
  if (builtJobs.size >= MAX_BUILT_JOBS) builtJobs.delete(builtJobs.keys().next().value!);
  builtJobs.set(key, built);
  return built;
}

async function buildAndCheck(request: WorkerJobContext): Promise<BuiltJobLike> {
  const definition = await loadDefinition(request.bundleDigest, request.bundlePath);
  const sizes = new Map(request.inputs.map((input) => [input.uri, input.size]));
  const built = await definition.buildPlan({
    args: request.args,
    driver: request.driver,
    inputSize: (uri) => {
      const size = sizes.get(uri);
      if (size === undefined) throw new Error(`input ${uri} is not in the submitted plan's inputs`);
      return size;
    },
  });
  if (built.plan.graphHash !== request.graphHash) {
    throw new WorkerTaskError(
      "nondeterministic_graph",
      `job graph is not deterministic: the executor rebuilt job "${definition.name}" with graph hash ${built.plan.graphHash}, ` +
        `but the submitted plan has ${request.graphHash} (partition counts or operations must not depend on randomness, time or the environment)`,
    );
  }
  return built;
}

function outputViews(output: PartitionOutput): Uint8Array[] {
  switch (output.kind) {
    case "shuffle":
      return output.partitions;
    case "collect":
      return [output.records];
    case "text":
      return [output.data];
    case "count":
      return [];
  }
}

/** Rebuilds the output around transferable copies of its byte arrays. */
function withViews(output: PartitionOutput, views: Uint8Array[]): PartitionOutput {
  switch (output.kind) {
    case "shuffle":
      return { kind: "shuffle", partitions: views, recordsOut: output.recordsOut };
    case "collect":
      return { kind: "collect", records: views[0], recordsOut: output.recordsOut };
    case "text":
      return { kind: "text", data: views[0], recordsOut: output.recordsOut };
    case "count":
      return { kind: "count", count: output.count };
  }
}

function failureOf(taskId: string, err: unknown): WorkerTaskResponse {
  const kind = err instanceof WorkerTaskError ? err.kind : "user_error";
  if (err instanceof Error) {
    const stack = err instanceof WorkerTaskError ? "" : trimStack(err.stack ?? "", HIDDEN_FRAMES);
    return { type: "failed", taskId, errorKind: kind, message: err.message, stack };
  }
  return { type: "failed", taskId, errorKind: kind, message: `non-Error value thrown: ${String(err)}`, stack: "" };
}

parentPort!.on("message", async (request: WorkerTaskMessage) => {
  let response: WorkerTaskResponse;
  let transfer: ArrayBuffer[] = [];
  try {
    const { output, inputBytes, spilled, cache } = await runTask(request);
    const prepared = prepareTransfer(outputViews(output));
    transfer = prepared.transfer;
    // Cache blocks are copied, not transferred: the output may share their buffers.
    response = { type: "done", taskId: request.taskId, output: withViews(output, prepared.views), inputBytes, spilled, cache };
  } catch (err) {
    response = failureOf(request.taskId, err);
  }
  parentPort!.postMessage(response, transfer);
});
