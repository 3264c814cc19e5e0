/** An executor wired to a fake scheduler, a real in-process shuffle service and an in-memory staging double. */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LaunchTask } from "@ballast/gen/scheduler";
import { createLogger } from "@ballast/common/logging";
import { shuffleIdOf, type Plan } from "@ballast/common/plan";
import { NotFoundError } from "@ballast/common/errors";
import { startShuffleServer, type ShuffleServer } from "@ballast/shuffle/server";
import { Executor, type ExecutorOptions } from "../executor.js";
import { planToWire } from "@ballast/common/wire/plan";
import type { BlobInfoLike, BlobRefLike, StagingPeer } from "../tasks/peers.js";
import { FakeScheduler } from "./fakeScheduler.js";
import type { BundledJob } from "./jobs.js";

export const logger = createLogger("executor-test");

/** Staging in memory: blobs by sha256, names -> sha256. */
export class MemoryStaging implements StagingPeer {
  readonly blobs = new Map<string, Uint8Array>();
  readonly names = new Map<string, string>();
  downloads = 0;

  addFile(path: string, name?: string): string {
    const data = readFileSync(path);
    const sha256 = createHash("sha256").update(data).digest("hex");
    this.blobs.set(sha256, data);
    if (name) this.names.set(name, sha256);
    return sha256;
  }

  async stat(ref: BlobRefLike): Promise<BlobInfoLike> {
    const sha256 = "sha256" in ref ? ref.sha256 : this.names.get(ref.name);
    const blob = sha256 && this.blobs.get(sha256);
    if (!sha256 || !blob) throw new NotFoundError(`no blob ${JSON.stringify(ref)}`);
    return { name: "name" in ref ? ref.name : "", sha256, size: blob.byteLength };
  }

  async downloadToFile(ref: BlobRefLike, destPath: string): Promise<BlobInfoLike> {
    const info = await this.stat(ref);
    this.downloads++;
    writeFileSync(destPath, this.blobs.get(info.sha256)!);
    return info;
  }

  async uploadBytes(data: Uint8Array): Promise<BlobInfoLike> {
    const sha256 = createHash("sha256").update(data).digest("hex");
    this.blobs.set(sha256, new Uint8Array(data));
    return { name: "", sha256, size: data.byteLength };
  }

  async link(name: string, sha256: string): Promise<BlobInfoLike> {
    this.names.set(name, sha256);
    return { name, sha256, size: this.blobs.get(sha256)!.byteLength };
  }
}

export interface Harness {
  dir: string;
  scheduler: FakeScheduler;
  shuffle: ShuffleServer;
  staging: MemoryStaging;
  executor: Executor;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  slots?: number;
  /** Extra executor options (fault hook, task events file, ...). */
  executor?: Partial<ExecutorOptions>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const { slots = 2 } = options;
  const dir = mkdtempSync(join(tmpdir(), "ballast-executor-"));
  const scheduler = new FakeScheduler();
  await scheduler.start();
  const shuffle = await startShuffleServer({ address: "127.0.0.1:0", dataDir: join(dir, "shuffle"), nodeId: "node-1", logger });
  const staging = new MemoryStaging();
  const executor = await Executor.start({
    schedulerAddresses: [scheduler.address],
    shuffleAddress: shuffle.address,
    stagingAddress: "127.0.0.1:1", // unused: staging is the in-memory double
    nodeId: "node-1",
    executorId: "node-1-exec-1",
    slots,
    host: "127.0.0.1",
    address: "127.0.0.1:0",
    dataDir: join(dir, "executor"),
    logger,
    reconnect: { initialMs: 20, maxMs: 200 },
    staging,
    ...options.executor,
  });
  return {
    dir,
    scheduler,
    shuffle,
    staging,
    executor,
    async stop() {
      await executor.stop();
      await scheduler.crash();
      await shuffle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LaunchOptions {
  taskId: string;
  partition: number;
  stageId?: number;
  datasetId?: number;
  attempt?: number;
  shuffleWrite?: { shuffleIndex: number; numReducePartitions: number; rangeSamples?: Buffer[] };
  sampleFor?: LaunchTask["sampleFor"];
  shuffleReads?: LaunchTask["shuffleReads"];
  conf?: Record<string, string>;
}

export const JOB_ID = "job-0001";

/** A LaunchTask for a bundled job, as the scheduler would send it. */
export function launchOf(job: BundledJob, plan: Plan, options: LaunchOptions): LaunchTask {
  const write = options.shuffleWrite;
  return {
    taskId: options.taskId,
    jobId: JOB_ID,
    stageId: options.stageId ?? 0,
    stageAttempt: 0,
    partition: options.partition,
    attempt: options.attempt ?? 0,
    bundleDigest: job.sha256,
    plan: planToWire(plan),
    datasetId: options.datasetId ?? plan.finalDatasetId,
    shuffleWrite: write && { rangeSamples: [], ...write, shuffleId: shuffleIdOf(JOB_ID, write.shuffleIndex) },
    sampleFor: options.sampleFor,
    shuffleReads: options.shuffleReads ?? [],
    conf: options.conf ?? {},
    traceparent: "",
    epoch: 0, // FakeScheduler.launch stamps its own epoch
    applicationId: "",
    cachedPartitions: [],
    jobToken: "", // the executor then uses its own (the cluster's) credentials
    planCached: false,
  };
}
