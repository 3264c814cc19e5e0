import type { ServerDuplexStream, ServerWritableStream } from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import {
  SchedulerServiceService,
  type ExecutorSessionRequest,
  type ExecutorSessionResponse,
  type SchedulerServiceServer,
  type WatchJobRequest,
  type WatchJobResponse,
} from "../../../../gen/ballast/v1/scheduler.js";
import { validateConf } from "../../../../packages/common/src/config.js";
import { InvalidArgumentError, NotFoundError, toServiceError } from "../../../../packages/common/src/errors.js";
import { serverStream, unary, type ServiceBinding } from "../../../../packages/common/src/grpc.js";
import type { Logger } from "../../../../packages/common/src/logging.js";
import { traceparentOf } from "../../../../packages/common/src/telemetry.js";
import { planFromWire } from "../../../../packages/common/src/wire/plan.js";
import type { JobView } from "../core/types.js";
import type { ExecutorChannel, SchedulerShell } from "../shell.js";
import { executorToWire, jobToWire, launchToWire, sessionMessageToInput } from "./convert.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface SchedulerServiceOptions {
  shell: SchedulerShell;
  logger: Logger;
  epoch: number;
  heartbeatIntervalMs: number;
  newJobId: () => string;
}

export function schedulerService(options: SchedulerServiceOptions): ServiceBinding {
  const { shell } = options;
  const requireJob = (jobId: string): JobView => {
    if (!jobId) throw new InvalidArgumentError("job_id is required");
    const job = shell.job(jobId);
    if (!job) throw new NotFoundError(`unknown job: ${jobId}`);
    return job;
  };

  const implementation: SchedulerServiceServer = {
    submitJob: unary(async (request) => {
      const plan = planFromWire(request.plan);
      if (!SHA256_HEX.test(request.bundleDigest)) throw new InvalidArgumentError("bundle_digest must be a sha256 hex digest");
      validateConf(request.conf);
      const jobId = options.newJobId();
      shell.dispatch({ type: "jobSubmitted", jobId, plan, bundleDigest: request.bundleDigest, conf: { ...request.conf }, traceparent: traceparentOf() });
      options.logger.info({ jobId, name: plan.jobName }, "job submitted");
      return { jobId };
    }),
    getJob: unary(async (request) => ({ job: jobToWire(requireJob(request.jobId)) })),
    watchJob: serverStream(async (request, call) => watchJob(shell, requireJob(request.jobId), call)),
    cancelJob: unary(async (request) => {
      const job = requireJob(request.jobId);
      if (job.status === "running") shell.dispatch({ type: "cancelJob", jobId: job.jobId, reason: "cancelled by user" });
      return { job: jobToWire(requireJob(request.jobId)) };
    }),
    listJobs: unary(async () => ({ jobs: shell.jobs().map(jobToWire) })),
    listExecutors: unary(async () => ({ executors: shell.executors().map(executorToWire) })),
    executorSession: (call) => runSession(options, call),
    authorizeCommit: unary(async (request) => {
      if (!request.taskId) throw new InvalidArgumentError("task_id is required");
      return { allowed: await shell.requestCommit(request.taskId, randomUUID()) };
    }),
  };
  return { name: "ballast.v1.SchedulerService", definition: SchedulerServiceService, implementation };
}

/** Sends the job's view now and on every change until it ends or the client goes away. */
function watchJob(shell: SchedulerShell, job: JobView, call: ServerWritableStream<WatchJobRequest, WatchJobResponse>): Promise<void> {
  return new Promise((resolve) => {
    const send = (view: JobView) => {
      call.write({ job: jobToWire(view) });
      if (view.status !== "running") finish();
    };
    const unsubscribe = shell.watch(job.jobId, send);
    const finish = () => {
      unsubscribe();
      resolve();
    };
    call.on("cancelled", finish);
    send(shell.job(job.jobId)!);
  });
}

type SessionCall = ServerDuplexStream<ExecutorSessionRequest, ExecutorSessionResponse>;

/** One executor's bidirectional session: registration, heartbeats and task updates in; launches and kills out. */
function runSession(options: SchedulerServiceOptions, call: SessionCall): void {
  const { shell, logger } = options;
  let executorId: string | undefined;
  const channel: ExecutorChannel = {
    launch: (task, traceparent) => call.write({ message: { $case: "launchTask", value: launchToWire(task, traceparent) } }),
    kill: (taskId, reason) => call.write({ message: { $case: "killTask", value: { taskId, reason } } }),
  };
  const close = (reason: string) => {
    if (executorId && shell.detachExecutor(executorId, channel)) shell.dispatch({ type: "executorLost", executorId, reason });
    executorId = undefined;
  };
  call.on("data", (request: ExecutorSessionRequest) => {
    try {
      const message = request.message;
      if (!message) throw new InvalidArgumentError("empty session message");
      if (message.$case === "register") {
        const r = message.value;
        if (!r.executorId || !r.nodeId || !r.shuffleAddress || r.slots < 1) throw new InvalidArgumentError("register needs executor_id, node_id, shuffle_address and slots >= 1");
        executorId = r.executorId;
        shell.attachExecutor(r.executorId, channel);
        call.write({ message: { $case: "registerAck", value: { epoch: options.epoch, heartbeatIntervalMs: options.heartbeatIntervalMs } } });
        shell.dispatch({ type: "executorRegistered", executor: { executorId: r.executorId, nodeId: r.nodeId, host: r.host, slots: r.slots, shuffleAddress: r.shuffleAddress } });
        logger.info({ executorId: r.executorId, nodeId: r.nodeId }, "executor registered");
        return;
      }
      if (!executorId) throw new InvalidArgumentError("the first session message must be register");
      shell.dispatch(sessionMessageToInput(executorId, message));
    } catch (err) {
      logger.warn({ err: (err as Error).message, executorId }, "bad session message");
      call.emit("error", Object.assign(new Error((err as Error).message), toServiceError(err)));
      close(`session error: ${(err as Error).message}`);
    }
  });
  call.on("end", () => {
    close("executor closed its session");
    call.end();
  });
  call.on("error", (err) => close(`session broke: ${err.message}`));
  call.on("cancelled", () => close("session cancelled"));
}
