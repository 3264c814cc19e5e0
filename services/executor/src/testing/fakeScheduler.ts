/**
 * A test double of the scheduler's executor-facing protocol (ExecutorSession,
 * AuthorizeCommit, GetLeader, DecommissionNode, ListNodes) that records what
 * executors send and lets a test launch and kill tasks, shut an executor
 * down, play a standby, and script node states. The real scheduler is tested
 * against executors in the cross-service tests.
 */
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import {
  NodeState,
  SchedulerServiceService,
  type CachedPartitionRef,
  type DecommissionNodeRequest,
  type DriverExited,
  type ExecutorSessionRequest,
  type ExecutorSessionResponse,
  type GetLeaderResponse,
  type LaunchTask,
  type ListNodesResponse,
  type RegisterExecutor,
  type RevokeAnswers,
  type TaskUpdate,
} from "@ballast/gen/scheduler";
import { NotFoundError } from "@ballast/common/errors";
import { startGrpcServer, unary, type RunningServer } from "@ballast/common/grpc";

type SessionCall = ServerDuplexStream<ExecutorSessionRequest, ExecutorSessionResponse>;

export interface ReceivedHeartbeat {
  at: number;
  runningTaskIds: string[];
}

export class FakeScheduler {
  readonly registrations: RegisterExecutor[] = [];
  readonly heartbeats: ReceivedHeartbeat[] = [];
  readonly updates: TaskUpdate[] = [];
  /** Memory copies executors reported evicted. */
  readonly cachedPartitionsDropped: CachedPartitionRef[] = [];
  readonly driverExits: DriverExited[] = [];
  readonly commitRequests: string[] = [];
  /** Executors' answers to revoke(). */
  readonly revokeAnswers: RevokeAnswers[] = [];
  readonly decommissionRequests: DecommissionNodeRequest[] = [];
  /** Session attempts this scheduler turned away as a standby. */
  rejectedSessions = 0;
  listNodesCalls = 0;
  /** Decides AuthorizeCommit; default: the first attempt per partition wins. */
  authorize: (taskId: string) => boolean = () => true;
  /** False: a standby, which rejects sessions with UNAVAILABLE and points GetLeader at `leaderAddress`. */
  isLeader = true;
  /** Turn sessions away with UNAVAILABLE (default: when not the leader). */
  rejectSessions?: boolean;
  /** What GetLeader reports as the leader (default: this scheduler when leading, else nothing). */
  leaderAddress?: string;
  /** Node states served by ListNodes; DecommissionNode moves a node to DECOMMISSIONING. */
  readonly nodeStates = new Map<string, NodeState>();
  private server?: RunningServer;
  private session?: SessionCall;

  constructor(
    public epoch = 1,
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
          getLeader: unary((): GetLeaderResponse => ({ leaderAddress: this.leaderAddress ?? (this.isLeader ? this.address : ""), epoch: this.epoch, isLeader: this.isLeader })),
          decommissionNode: unary((request: DecommissionNodeRequest) => {
            this.decommissionRequests.push(request);
            this.nodeStates.set(request.nodeId, NodeState.NODE_STATE_DECOMMISSIONING);
            return { node: this.nodeInfo(request.nodeId) };
          }),
          listNodes: unary((): ListNodesResponse => {
            this.listNodesCalls++;
            return { nodes: [...this.nodeStates.keys()].map((nodeId) => this.nodeInfo(nodeId)) };
          }),
          recommissionNode: unary(() => {
            throw new NotFoundError("not implemented by the fake");
          }),
        },
      },
    ]);
    return this.server.address;
  }

  get address(): string {
    return this.server!.address;
  }

  get connected(): boolean {
    return this.session !== undefined;
  }

  /** Sends a launch stamped with `epoch` (default: this scheduler's). */
  launch(task: LaunchTask, epoch = this.epoch): void {
    this.session!.write({ message: { $case: "launchTask", value: { ...task, epoch } } });
  }

  kill(taskId: string, reason = "test kill", epoch = this.epoch): void {
    this.session!.write({ message: { $case: "killTask", value: { taskId, reason, epoch } } });
  }

  revoke(taskIds: string[], reason = "test take-back", epoch = this.epoch): void {
    this.session!.write({ message: { $case: "revokeTasks", value: { taskIds, reason, epoch } } });
  }

  shutdown(reason = "test shutdown", epoch = this.epoch): void {
    this.session!.write({ message: { $case: "shutdown", value: { reason, epoch } } });
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

  private nodeInfo(nodeId: string) {
    return {
      nodeId,
      state: this.nodeStates.get(nodeId) ?? NodeState.NODE_STATE_ACTIVE,
      reason: "",
      excludedUntilMs: 0,
      shuffleAddress: "",
      executorIds: [],
      failureScore: 0,
      decommissionDeadlineMs: 0,
      migratedOutputs: 0,
      migratedBytes: 0,
      runningTasks: 0,
    };
  }

  private onSession(call: SessionCall): void {
    if (this.rejectSessions ?? !this.isLeader) {
      this.rejectedSessions++;
      call.emit("error", { code: GrpcStatus.UNAVAILABLE, details: "not the leader" });
      return;
    }
    call.on("data", (request: ExecutorSessionRequest) => {
      const message = request.message;
      if (!message) return;
      if (message.$case === "register") {
        this.registrations.push(message.value);
        this.session = call;
        call.write({ message: { $case: "registerAck", value: { epoch: this.epoch, heartbeatIntervalMs: this.heartbeatIntervalMs } } });
      } else if (message.$case === "heartbeat") {
        this.heartbeats.push({ at: Date.now(), runningTaskIds: message.value.runningTaskIds });
      } else if (message.$case === "taskUpdates") {
        this.updates.push(...message.value.updates);
      } else if (message.$case === "cachedPartitionsDropped") {
        this.cachedPartitionsDropped.push(...message.value.partitions);
      } else if (message.$case === "driverExited") {
        this.driverExits.push(message.value);
      } else if (message.$case === "revokeAnswers") {
        this.revokeAnswers.push(message.value);
      } else {
        this.updates.push(message.value);
      }
    });
    const forget = () => {
      if (this.session === call) this.session = undefined;
    };
    call.on("error", forget);
    call.on("cancelled", forget);
    call.on("end", () => {
      forget();
      call.end();
    });
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
