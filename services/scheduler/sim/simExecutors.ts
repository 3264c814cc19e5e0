/**
 * What the simulated executors do with a launched task: fail it (bad node,
 * user errors), read its shuffle inputs (fetch failures), write its map
 * output to the node's shuffle service or return its result (asking to
 * commit first for saveAsTextFile), and report back to the scheduler.
 * Some tasks may be stragglers (slowTaskRate), to exercise speculative copies.
 */
import type { FetchFailure, TaskFailure, TaskLaunch } from "../src/core/types.js";
import { SimCluster } from "./simCluster.js";
import type { SimNode } from "./simModel.js";

export abstract class SimExecutors extends SimCluster {
  protected taskDurationMs(): number {
    const durationMs = 50 + this.random() * 350;
    const slowRate = this.options.slowTaskRate ?? 0;
    return slowRate > 0 && this.random() < slowRate ? 2000 + this.random() * 4000 : durationMs;
  }

  protected finishTask(taskId: string): void {
    const entry = this.running.get(taskId);
    if (!entry) return;
    const { node, executorId, task } = entry;
    if (node.paused) {
      node.deferred.push(() => this.finishTask(taskId));
      return;
    }
    this.running.delete(taskId);
    if ((this.options.badNode && node.index === 0) || this.random() < (this.options.userErrorRate ?? 0)) {
      return this.report(node, executorId, taskId, { kind: "userError", message: "Error: disk I/O error", stack: "at job.ts:1" });
    }
    const fetch = this.readShuffles(task);
    if (fetch) {
      const key = `${fetch.shuffleId}/${fetch.mapIndex}/${fetch.shuffleAddress}`;
      this.fetchFailures[this.decommissionedAddresses.has(fetch.shuffleAddress) ? "decommission" : "plain"].add(key);
      return this.report(node, executorId, taskId, { kind: "fetchFailed", message: "fetch failed after retries", stack: "", fetch });
    }
    if (task.shuffleWrite) this.succeedMapTask(node, executorId, task);
    else this.succeedResultTask(node, executorId, task);
  }

  /** The first unreadable block, as the executor would report it after its retries. */
  protected readShuffles(task: TaskLaunch): FetchFailure | undefined {
    for (const read of task.shuffleReads) {
      for (const location of read.locations) {
        const base = { shuffleId: read.shuffleId, mapIndex: location.mapIndex, mapAttempt: location.attempt, shuffleAddress: location.shuffleAddress, nodeId: location.nodeId };
        const service = this.services.get(location.shuffleAddress);
        if (!service?.up) return { ...base, serviceUnreachable: true };
        if (service.blocks.get(`${read.shuffleId}/${location.mapIndex}/${location.attempt}`) !== false) return { ...base, serviceUnreachable: false };
      }
    }
    return undefined;
  }

  protected succeedMapTask(node: SimNode, executorId: string, task: TaskLaunch): void {
    const write = task.shuffleWrite!;
    if (!node.service.up) return this.report(node, executorId, task.taskId, { kind: "executorError", message: "shuffle service unavailable", stack: "" });
    node.service.blocks.set(`${write.shuffleId}/${task.partition}/${task.attempt}`, false);
    this.fromExecutor(node, executorId, {
      type: "taskUpdate", executorId, taskId: task.taskId, state: "succeeded",
      mapStatus: {
        shuffleId: write.shuffleId, mapIndex: task.partition, attempt: task.attempt, shuffleAddress: node.service.address, nodeId: node.nodeId,
        partitionSizes: new Array<number>(write.numReducePartitions).fill(8),
      },
    });
  }

  protected succeedResultTask(node: SimNode, executorId: string, task: TaskLaunch): void {
    if (task.plan.action === "saveAsTextFile") {
      if (node.paused || !node.session || this.schedulerDown) {
        // The commit request cannot reach the scheduler now: try again later.
        this.running.set(task.taskId, { node, executorId, task });
        this.at(200, () => this.finishTask(task.taskId));
        return;
      }
      const decision = this.send({ type: "commitRequested", taskId: task.taskId, requestId: `commit-${task.taskId}` }).find((command) => command.type === "commitDecision");
      if (decision?.type !== "commitDecision" || !decision.allowed) return this.report(node, executorId, task.taskId, { kind: "commitDenied", message: "commit denied", stack: "" });
    }
    this.fromExecutor(node, executorId, { type: "taskUpdate", executorId, taskId: task.taskId, state: "succeeded", records: Uint8Array.of(task.partition % 256), count: 1 });
  }

  protected report(node: SimNode, executorId: string, taskId: string, failure: TaskFailure): void {
    this.fromExecutor(node, executorId, { type: "taskUpdate", executorId, taskId, state: "failed", failure });
  }
}
