/**
 * A test double of the scheduler's executor-facing protocol (ExecutorSession
 * and AuthorizeCommit) that records what executors send and lets a test
 * launch and kill tasks. The real scheduler is tested against executors in
 * the cross-service tests.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import {
  SchedulerServiceService,
  type ExecutorSessionRequest,
  type ExecutorSessionResponse,
  type LaunchTask,
  type RegisterExecutor,
  type TaskUpdate,
} from "../../../../gen/ballast/v1/scheduler.js";
import { startGrpcServer, unary, type RunningServer } from "../../../../packages/common/src/grpc.js";

type SessionCall = ServerDuplexStream<ExecutorSessionRequest, ExecutorSessionResponse>;

export interface ReceivedHeartbeat {
  at: number;
  runningTaskIds: string[];
}

export class FakeScheduler {
  readonly registrations: RegisterExecutor[] = [];
  readonly heartbeats: ReceivedHeartbeat[] = [];
  readonly updates: TaskUpdate[] = [];
  readonly commitRequests: string[] = [];
  /** Decides AuthorizeCommit; default: the first attempt per partition wins. */
  authorize: (taskId: string) => boolean = () => true;
  private server?: RunningServer;
  private session?: SessionCall;

  constructor(
    private readonly epoch = 1,
    private readonly heartbeatIntervalMs = 100,
  ) {}

  async start(address = "127.0.0.1:0"): Promise<string> {
    this.server = await startGrpcServer(address, [
      {
        name: "ballast.v1.SchedulerService",
        definition: SchedulerServiceService,
        implementation: {
          executorSession: (call: SessionCall) => this.onSession(call),
          authorizeCommit: unary((request: { taskId: string }) => {
            this.commitRequests.push(request.taskId);
            return { allowed: this.authorize(request.taskId) };
          }),
        },
      },
    ]);
    return this.server.address;
  }

  get address(): string {
    return this.server!.address;
  }

  launch(task: LaunchTask): void {
    this.session!.write({ message: { $case: "launchTask", value: task } });
  }

  kill(taskId: string, reason = "test kill"): void {
    this.session!.write({ message: { $case: "killTask", value: { taskId, reason } } });
  }

  /** Cuts every connection at once, as a crash would. */
  async crash(): Promise<void> {
    this.session = undefined;
    this.server?.server.forceShutdown();
    this.server = undefined;
  }

  updatesFor(taskId: string): TaskUpdate[] {
    return this.updates.filter((u) => u.taskId === taskId);
  }

  private onSession(call: SessionCall): void {
    call.on("data", (request: ExecutorSessionRequest) => {
      const message = request.message;
      if (!message) return;
      if (message.$case === "register") {
        this.registrations.push(message.value);
        this.session = call;
        call.write({ message: { $case: "registerAck", value: { epoch: this.epoch, heartbeatIntervalMs: this.heartbeatIntervalMs } } });
      } else if (message.$case === "heartbeat") {
        this.heartbeats.push({ at: Date.now(), runningTaskIds: message.value.runningTaskIds });
      } else {
        this.updates.push(message.value);
      }
    });
    call.on("error", () => undefined);
    call.on("end", () => call.end());
  }
}

/** Polls until `check` returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
