// What the scheduler sends one executor session: launches batched per event-loop turn, each
// job's plan and conf sent once per session, and kills and shutdowns kept in order behind them.
import type { ExecutorSessionResponse, LaunchTask } from "@ballast/gen/scheduler";
import { launchToWire, SentPlans } from "@ballast/common/wire/tasks";
import type { TaskLaunch } from "../core/types.js";

type Write = (message: ExecutorSessionResponse) => void;

/**
 * The shell carries out a whole group commit's commands in one synchronous run, so the
 * launches of that run leave as one LaunchTasks message (one when only one). Any other message
 * to the executor flushes the pending launches first: a kill never overtakes its launch.
 */
export class LaunchBatcher {
  private pending: LaunchTask[] = [];
  private scheduled = false;
  private readonly sentPlans = new SentPlans();

  constructor(private readonly writeMessage: Write, private readonly epoch: () => number) {}

  launch(task: TaskLaunch, traceparent: string, jobToken = ""): void {
    const planCached = this.sentPlans.markSent(task.jobId);
    this.pending.push(launchToWire(task, traceparent, this.epoch(), { planCached, jobToken }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends any other message, after the launches decided before it. */
  write(message: ExecutorSessionResponse): void {
    this.flush();
    this.writeMessage(message);
  }

  flush(): void {
    this.scheduled = false;
    const tasks = this.pending;
    if (tasks.length === 0) return;
    this.pending = [];
    if (tasks.length === 1) this.writeMessage({ message: { $case: "launchTask", value: tasks[0]! } });
    else this.writeMessage({ message: { $case: "launchTasks", value: { tasks } } });
  }
}
