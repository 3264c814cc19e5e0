/**
 * Runs a whole job in-process the way the engine would: every shuffle's map
 * stage (each parent partition writes one block per reduce partition; range
 * partitioned shuffles sample their parent first), the
 * blocks routed to reduce partitions, then the final stage. For tests only:
 * the real stage planning lives in the scheduler.
 */
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { Plan } from "@ballast/common/plan";
import { decodeCollected } from "../runtime/codec.js";
import { shuffleReadsOf } from "../planning.js";
import type {
  AppDefinition,
  BuiltJob,
  JobDefinition,
  PartitionCache,
  PartitionIO,
  PartitionOutput,
  PartitionTask,
  RawActionResult,
  SpillSpace,
  StorageLevel,
} from "../types.js";

export interface LocalRunOptions {
  args?: string[];
  /** In-memory inputs by URI; other file:// URIs are read from disk. */
  files?: Record<string, string | Uint8Array>;
  /** Run map tasks last-partition-first (results must not depend on task order). */
  reverseTaskOrder?: boolean;
  /** Persisted partitions, shared by the jobs of an app (runLocalApp makes one). */
  cache?: LocalPartitionCache;
  /** Every task's spill space (reduce-side operators spill past its memoryLimit). */
  spill?: SpillSpace;
}

/** An in-memory PartitionCache that counts what the jobs read and wrote. */
export class LocalPartitionCache implements PartitionCache {
  readonly blocks = new Map<string, Uint8Array>();
  reads = 0;
  writes = 0;

  read(cacheKey: string, partition: number): Uint8Array | undefined {
    const block = this.blocks.get(`${cacheKey}/${partition}`);
    if (block) this.reads++;
    return block;
  }

  write(cacheKey: string, partition: number, _level: StorageLevel, block: Uint8Array): void {
    this.writes++;
    this.blocks.set(`${cacheKey}/${partition}`, block);
  }

  /** A lost cached partition (its executor or node went away). */
  lose(cacheKey: string, partition: number): void {
    this.blocks.delete(`${cacheKey}/${partition}`);
  }
}

export interface LocalRunResult {
  plan: Plan;
  /** collect: the records, in partition order. */
  records?: unknown[];
  /** count */
  count?: number;
  /** saveAsTextFile: the part files' contents, by partition. */
  textParts?: string[];
  /** Number of runPartition calls. */
  tasks: number;
  /** Partitions of persisted datasets read from the cache instead of computed. */
  cachedPartitionsRead: number;
}

/** Reads inputs from `files` or, for file:// URIs, from disk. */
export class LocalFiles {
  private readonly contents = new Map<string, Uint8Array>();

  constructor(files: Record<string, string | Uint8Array> = {}) {
    for (const [uri, content] of Object.entries(files)) {
      this.contents.set(uri, typeof content === "string" ? Buffer.from(content, "utf8") : content);
    }
  }

  size(uri: string): number {
    const content = this.contents.get(uri);
    return content ? content.length : fs.statSync(this.pathOf(uri)).size;
  }

  readRange(uri: string, start: number, end: number): Uint8Array {
    const content = this.contents.get(uri);
    if (content) return content.slice(start, Math.min(end, content.length));
    const fd = fs.openSync(this.pathOf(uri), "r");
    try {
      const length = Math.max(0, Math.min(end, fs.fstatSync(fd).size) - start);
      const buffer = Buffer.alloc(length);
      const read = fs.readSync(fd, buffer, 0, length, start);
      return buffer.subarray(0, read);
    } finally {
      fs.closeSync(fd);
    }
  }

  private pathOf(uri: string): string {
    if (!uri.startsWith("file://")) throw new Error(`no local content for ${uri}`);
    return fileURLToPath(uri);
  }
}

export function runLocal(definition: JobDefinition, options: LocalRunOptions = {}): LocalRunResult {
  const files = new LocalFiles(options.files);
  const built = definition.buildPlan({ args: options.args ?? [], inputSize: (uri) => files.size(uri) });
  return new LocalEngine(built, files, options.reverseTaskOrder ?? false, options.spill, options.cache).run();
}

export interface LocalAppResult {
  /** What the driver program returned. */
  result: unknown;
  /** One per action, in the program's order. */
  jobs: LocalRunResult[];
}

/**
 * Runs a driver program in-process. Every action's job is rebuilt the way an
 * executor does (the program replayed to that action with the recorded
 * results) and its graph hash checked against the driver's plan.
 */
export async function runLocalApp(definition: AppDefinition, options: LocalRunOptions = {}): Promise<LocalAppResult> {
  const files = new LocalFiles(options.files);
  const args = options.args ?? [];
  const inputSize = (uri: string): number => files.size(uri);
  const jobs: LocalRunResult[] = [];
  const cache = options.cache ?? new LocalPartitionCache();
  const result = await definition.run({
    args,
    inputSize,
    runJob: async (built): Promise<RawActionResult> => {
      const rebuilt = await definition.buildPlan({ args, inputSize, driver: built.plan.driver });
      if (rebuilt.plan.graphHash !== built.plan.graphHash) {
        throw new Error(`action ${built.plan.driver?.actionIndex} rebuilt with a different graph hash`);
      }
      const run = new LocalEngine(rebuilt, files, options.reverseTaskOrder ?? false, options.spill, cache).run();
      jobs.push(run);
      const outputUri = built.plan.action === "saveAsTextFile" ? built.plan.outputUri : undefined;
      return { records: run.records, count: run.count, outputUri };
    },
  });
  return { result, jobs };
}

class LocalEngine {
  /** Per shuffle: the map outputs (one array of reduce-partition blocks per map partition). */
  private readonly mapOutputs = new Map<number, Uint8Array[][]>();
  private tasks = 0;

  constructor(
    private readonly built: BuiltJob,
    private readonly files: LocalFiles,
    private readonly reverse: boolean,
    private readonly spill: SpillSpace | undefined,
    private readonly cache?: LocalPartitionCache,
  ) {}

  run(): LocalRunResult {
    const readsBefore = this.cache?.reads ?? 0;
    const { plan } = this.built;
    const finalDataset = plan.datasets[plan.finalDatasetId]!;
    const outputs = this.partitions(finalDataset.numPartitions).map((partition) => ({
      partition,
      output: this.runTask(plan.finalDatasetId, partition),
    }));
    outputs.sort((a, b) => a.partition - b.partition);
    const cachedPartitionsRead = (this.cache?.reads ?? 0) - readsBefore;
    return { plan, tasks: this.tasks, cachedPartitionsRead, ...summarize(outputs.map((entry) => entry.output)) };
  }

  private partitions(count: number): number[] {
    const all = Array.from({ length: count }, (_, i) => i);
    return this.reverse ? all.reverse() : all;
  }

  /** Runs a task after the map stages it reads from. */
  private runTask(datasetId: number, partition: number, role: Pick<PartitionTask, "shuffleWrite" | "sampleFor"> = {}): PartitionOutput {
    const reads = shuffleReadsOf(this.built.plan, datasetId, partition);
    const io: PartitionIO = {
      readRange: (uri, start, end) => this.files.readRange(uri, start, end),
      shuffleBlocks: (index) => {
        const read = reads.find((candidate) => candidate.shuffleIndex === index);
        if (!read) throw new Error(`task (${datasetId}, ${partition}) did not plan to read shuffle ${index}`);
        // Map stages run when first read, so a task that finds its partition cached skips them.
        this.ensureShuffle(index);
        return this.mapOutputs.get(index)!.map((blocks) => blocks[read.reducePartition]!);
      },
      cache: this.cache,
      spill: this.spill,
    };
    this.tasks++;
    return this.built.runPartition({ datasetId, partition, ...role }, io);
  }

  private ensureShuffle(shuffleIndex: number): void {
    if (this.mapOutputs.has(shuffleIndex)) return;
    const shuffle = this.built.plan.shuffles[shuffleIndex]!;
    const parent = this.built.plan.datasets[shuffle.parentDatasetId]!;
    const rangeSamples = shuffle.rangePartitioned ? this.sample(parent.id, parent.numPartitions, shuffleIndex) : undefined;
    const shuffleWrite = { shuffleIndex, numReducePartitions: shuffle.numReducePartitions, rangeSamples };
    const blocks: Uint8Array[][] = new Array(parent.numPartitions);
    for (const partition of this.partitions(parent.numPartitions)) {
      const output = this.runTask(parent.id, partition, { shuffleWrite });
      if (output.kind !== "shuffle" || output.partitions.length !== shuffle.numReducePartitions) {
        throw new Error(`map task of shuffle ${shuffleIndex} returned a bad output`);
      }
      blocks[partition] = output.partitions;
    }
    this.mapOutputs.set(shuffleIndex, blocks);
  }

  /** The sample stage of a range-partitioned shuffle: one sample block per parent partition, in partition order. */
  private sample(datasetId: number, numPartitions: number, shuffleIndex: number): Uint8Array[] {
    const samples: Uint8Array[] = new Array(numPartitions);
    for (const partition of this.partitions(numPartitions)) {
      const output = this.runTask(datasetId, partition, { sampleFor: { shuffleIndex } });
      if (output.kind !== "collect") throw new Error(`sample task of shuffle ${shuffleIndex} returned a ${output.kind} output`);
      samples[partition] = output.records;
    }
    return samples;
  }
}

function summarize(outputs: PartitionOutput[]): Omit<LocalRunResult, "plan" | "tasks" | "cachedPartitionsRead"> {
  const kind = outputs[0]?.kind;
  if (kind === "count") return { count: outputs.reduce((sum, o) => sum + (o.kind === "count" ? o.count : 0), 0) };
  if (kind === "collect") return { records: decodeCollected(outputs.map((o) => (o.kind === "collect" ? o.records : new Uint8Array()))) };
  if (kind === "text") return { textParts: outputs.map((o) => (o.kind === "text" ? Buffer.from(o.data).toString("utf8") : "")) };
  return {};
}
