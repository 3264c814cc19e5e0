import { Worker } from "node:worker_threads";
import type { Logger } from "@ballast/common/logging";
import type { WorkerJobContext, WorkerTaskMessage, WorkerTaskRequest, WorkerTaskResponse } from "./protocol.js";

/** The worker died under a task (out of memory, process.exit, an uncaught async error): the executor's fault, not the task's. */
export class WorkerCrashedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkerCrashedError";
  }
}

/** The task was killed on request before it finished. */
export class TaskKilledError extends Error {
  constructor(readonly taskId: string, reason: string) {
    super(reason);
    this.name = "TaskKilledError";
  }
}

interface Job {
  request: WorkerTaskRequest;
  transfer: ArrayBuffer[];
  onStart?: () => void;
  resolve(response: WorkerTaskResponse): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  /** The job context this worker got last (WorkerTaskMessage): what it reuses when a task names it. */
  jobNumber?: number;
}

// Built code runs worker.js as it is; sources (tests, development) go through an entry that registers tsx.
const DEFAULT_ENTRY = import.meta.url.endsWith(".ts") ? new URL("./worker-entry.mjs", import.meta.url) : new URL("./worker.js", import.meta.url);

/**
 * A fixed number of worker threads, each running one task at a time. A worker
 * that crashes or is killed is thrown away and a fresh one takes its place,
 * so one task's damage (leaked globals, a stuck loop) never reaches the next.
 */
export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private closed = false;
  /** Job contexts by identity: the runner gives every task of a job the same object. */
  private readonly jobNumbers = new WeakMap<WorkerJobContext, number>();
  private lastJobNumber = 0;

  constructor(
    private readonly size: number,
    private readonly logger: Logger,
    private readonly entry: URL = DEFAULT_ENTRY,
    /** Old-generation cap of each worker's heap (memorySizing); default: V8's own. */
    private readonly heapBytes?: number,
  ) {}

  /** Starts all workers now so the first tasks do not pay for thread start-up. */
  warm(): void {
    while (this.slots.size < this.size) this.slots.add(this.spawn());
  }

  /** `onStart`: called when a worker takes the task (it may wait in the queue before). */
  run(request: WorkerTaskRequest, transfer: ArrayBuffer[] = [], onStart?: () => void): Promise<WorkerTaskResponse> {
    if (this.closed) return Promise.reject(new WorkerCrashedError("the worker pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, transfer, onStart, resolve, reject });
      this.dispatch();
    });
  }

  /** Kills a queued or running task; its promise rejects with TaskKilledError. Returns false when unknown. */
  kill(taskId: string, reason = "killed"): boolean {
    if (this.withdraw(taskId, reason)) return true;
    const slot = [...this.slots].find((s) => s.job?.request.taskId === taskId);
    if (!slot) return false;
    this.retire(slot, new TaskKilledError(taskId, reason));
    return true;
  }

  /**
   * Take-back: removes the task if it is still waiting for a worker (its promise rejects with
   * TaskKilledError). False when a worker has it or it is not here: it started, or has yet to reach the pool.
   */
  withdraw(taskId: string, reason: string): boolean {
    const queued = this.queue.findIndex((job) => job.request.taskId === taskId);
    if (queued < 0) return false;
    this.queue.splice(queued, 1)[0]!.reject(new TaskKilledError(taskId, reason));
    return true;
  }

  get runningTaskIds(): string[] {
    return [...this.slots].flatMap((slot) => (slot.job ? [slot.job.request.taskId] : []));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new TaskKilledError(job.request.taskId, "executor is stopping"));
    await Promise.all([...this.slots].map((slot) => this.retire(slot, new TaskKilledError(slot.job?.request.taskId ?? "", "executor is stopping"))));
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot = [...this.slots].find((s) => !s.job);
      if (!slot && this.slots.size < this.size) {
        slot = this.spawn();
        this.slots.add(slot);
      }
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      job.onStart?.();
      slot.worker.postMessage(this.messageFor(slot, job.request), job.transfer);
    }
  }

  /** The request with its job context left out when this slot's worker has it already. */
  private messageFor(slot: Slot, request: WorkerTaskRequest): WorkerTaskMessage {
    let jobNumber = this.jobNumbers.get(request.job);
    if (jobNumber === undefined) this.jobNumbers.set(request.job, (jobNumber = ++this.lastJobNumber));
    const known = slot.jobNumber === jobNumber;
    slot.jobNumber = jobNumber;
    const { type, taskId, localPaths, task, blocks, spill, cached } = request;
    const message: WorkerTaskMessage = { type, taskId, jobNumber, localPaths, task, blocks, spill };
    if (!known) message.job = request.job;
    if (cached) message.cached = cached;
    return message;
  }

  private spawn(): Slot {
    // A larger young generation: record pipelines allocate many short-lived tuples, and
    // the default semi-space makes the scavenger a large share of task time.
    const heapCap = this.heapBytes === undefined ? {} : { maxOldGenerationSizeMb: Math.ceil(this.heapBytes / 2 ** 20) };
    const worker = new Worker(this.entry, { resourceLimits: { maxYoungGenerationSizeMb: 48, ...heapCap } });
    const slot: Slot = { worker };
    worker.on("message", (response: WorkerTaskResponse) => {
      const job = slot.job;
      if (!job || job.request.taskId !== response.taskId) return;
      slot.job = undefined;
      job.resolve(response);
      this.dispatch();
    });
    worker.on("error", (err) => this.onCrash(slot, `task worker crashed: ${err.message}`));
    worker.on("exit", (code) => this.onCrash(slot, `task worker exited with code ${code}`));
    return slot;
  }

  private onCrash(slot: Slot, message: string): void {
    if (!this.slots.has(slot)) return; // already retired on purpose
    this.logger.error({ taskId: slot.job?.request.taskId, err: message }, "task worker crashed; replacing it");
    void this.retire(slot, new WorkerCrashedError(message));
  }

  /** Removes a worker from the pool, failing its task with `reason`, and lets the queue move on. */
  private async retire(slot: Slot, reason: Error): Promise<void> {
    this.slots.delete(slot);
    const job = slot.job;
    slot.job = undefined;
    job?.reject(reason);
    this.dispatch();
    await slot.worker.terminate().catch(() => undefined);
  }
}
