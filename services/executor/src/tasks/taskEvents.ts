/**
 * Test-only task event log. When the executor is started with
 * BALLAST_TEST_TASK_EVENTS_FILE=<path>, it appends one JSON line per task
 * start and end:
 *
 *   {"event":"start","taskId":"...","jobId":"...","stageId":1,"partition":3,"attempt":0,
 *    "state":"running","nodeId":"node-1","executorId":"node-1-exec-...","at":1700000000000}
 *
 * so tests can wait for "stage 1 has a task running" without polling the
 * scheduler. Several executors may share one file: each line is a single
 * O_APPEND write.
 */
import { appendFileSync } from "node:fs";
import type { TaskLaunch, TaskState, TaskStatusUpdate } from "@ballast/common/domain/tasks";

export interface TaskEvent {
  event: "start" | "end";
  taskId: string;
  jobId: string;
  stageId: number;
  partition: number;
  attempt: number;
  state: TaskState;
  nodeId: string;
  executorId: string;
  at: number;
  /** End of a job of an application: cached partitions it read, and partitions of persisted datasets it computed and kept. */
  cachedRead?: number;
  cachedKept?: number;
}

export class TaskEventLog {
  constructor(
    private readonly path: string,
    private readonly identity: { nodeId: string; executorId: string },
  ) {}

  record(event: TaskEvent["event"], launch: TaskLaunch, state: TaskState, update?: TaskStatusUpdate): void {
    const { taskId, jobId, stageId, partition, attempt } = launch;
    const line: TaskEvent = { event, taskId, jobId, stageId, partition, attempt, state, ...this.identity, at: Date.now() };
    if (update && launch.applicationId) {
      line.cachedRead = update.metrics?.cachedPartitionsRead ?? 0;
      line.cachedKept = update.cachedWrites?.length ?? 0;
    }
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}
