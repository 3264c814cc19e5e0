import type { ServerDuplexStream, ServerWritableStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import {
  SchedulerServiceService,
  type ExecutorSessionRequest,
  type ExecutorSessionResponse,
  type SchedulerServiceServer,
  type WatchJobRequest,
  type WatchJobResponse,
} from "@ballast/gen/scheduler";
import { JOB_OWNER_KEY, resolveConf } from "@ballast/common/config";
import type { Identity } from "@ballast/common/auth";
import { callerOf, driverTokenFor, jobTokenFor } from "@ballast/common/security";
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, requireValid, UnavailableError, toServiceError } from "@ballast/common/errors";
import { serverStream, unary, type ServiceBinding } from "@ballast/common/grpc";
import { idProblem, optionalIdProblem } from "@ballast/common/limits";
import type { Logger } from "@ballast/common/logging";
import { traceparentOf } from "@ballast/common/telemetry";
import { jobToWire } from "@ballast/common/wire/jobs";
import { planFromWire } from "@ballast/common/wire/plan";
import { executorToWire, nodeToWire } from "@ballast/common/wire/resources";
import type { JobView, NodeView } from "../core/types.js";
import type { ExecutorChannel, SchedulerShell } from "../shell.js";
import { applicationHandlers } from "./applications.js";
import { requireBundleDigest, requireJobConf } from "./checks.js";
import { jobPage } from "./jobPages.js";
import { LaunchBatcher } from "./launchBatch.js";
import { cachedPartitionRefsFromWire, registrationProblem, sessionMessagesToInputs } from "./sessionInput.js";
import { withStrictDecoding } from "@ballast/common/wire/decode";

export interface SchedulerServiceOptions {
  /** The shell while this scheduler leads; undefined on a standby. */
  shell: () => SchedulerShell | undefined;
  leader: () => { address: string; epoch: number; isLeader: boolean };
  /** This scheduler's epoch, stamped on everything it sends executors. */
  epoch: () => number;
  logger: Logger;
  heartbeatIntervalMs: number;
  baseConf: Record<string, string>;
  newJobId: () => Promise<string>;
}

export function schedulerService(options: SchedulerServiceOptions): ServiceBinding {
  const active = (): SchedulerShell => {
    const shell = options.shell();
    if (shell) return shell;
    const leader = options.leader().address;
    throw new UnavailableError(`this scheduler is a standby; the leader is ${leader ? `at ${leader}` : "not elected yet"}`);
  };
  const requireJob = (jobId: string): JobView => {
    requireValid(idProblem("job_id", jobId));
    const job = active().job(jobId);
    if (!job) throw new NotFoundError(`unknown job: ${jobId}`);
    return job;
  };
  const requireNode = (nodeId: string): NodeView => {
    requireValid(idProblem("node_id", nodeId));
    const node = active().nodes().find((n) => n.nodeId === nodeId);
    if (!node) throw new NotFoundError(`unknown node: ${nodeId}`);
    return node;
  };

  const implementation: SchedulerServiceServer = {
    submitJob: unary(async (request, call) => {
      requireValid(optionalIdProblem("submission_id", request.submissionId));
      const shell = active();
      // The conf first: a process setting in a job's --conf is named even when the rest is wrong too.
      requireJobConf(request.conf, options.baseConf);
      const plan = planFromWire(request.plan);
      requireBundleDigest(request.bundleDigest);
      refuseEndedApplication(shell, request.applicationId);
      const existing = await shell.jobForSubmission(request.submissionId);
      if (existing) return { jobId: existing };
      const jobId = await options.newJobId();
      // A retry that arrived while we awaited the counter.
      const raced = request.submissionId ? shell.submittedHere(request.submissionId) : undefined;
      if (raced) return { jobId: raced };
      shell.dispatch({ type: "jobSubmitted", jobId, plan, bundleDigest: request.bundleDigest, conf: withOwner(request.conf, callerOf(call)), traceparent: traceparentOf(), submissionId: request.submissionId || undefined, applicationId: request.applicationId || undefined });
      options.logger.info({ jobId, name: plan.jobName }, "job submitted");
      return { jobId };
    }),
    getJob: unary(async (request) => ({ job: jobToWire(requireJob(request.jobId)) })),
    watchJob: serverStream(async (request, call) => watchJob(active(), requireJob(request.jobId), call)),
    cancelJob: unary(async (request) => {
      const job = requireJob(request.jobId);
      if (job.status === "running") active().dispatch({ type: "cancelJob", jobId: job.jobId, reason: "cancelled by user" });
      return { job: jobToWire(requireJob(request.jobId)) };
    }),
    listJobs: unary(async (request) => jobPage(active().jobs().filter((job) => !request.applicationId || job.applicationId === request.applicationId), request)),
    unpersistDataset: unary(async (request) => {
      if (!request.applicationId || !request.cacheKey) throw new InvalidArgumentError("application_id and cache_key are required");
      const before = active().cachedPartitions(request.applicationId, request.cacheKey);
      active().dispatch({ type: "datasetUnpersisted", applicationId: request.applicationId, cacheKey: request.cacheKey });
      return { partitions: before };
    }),
    ...applicationHandlers(active, options.baseConf),
    listExecutors: unary(async () => ({ executors: active().executors().map(executorToWire) })),
    listNodes: unary(async () => ({ nodes: active().nodes().map(nodeToWire) })),
    executorSession: (call) => runSession(options, active, call),
    authorizeCommit: unary(async (request) => {
      requireValid(idProblem("task_id", request.taskId));
      return { allowed: await active().requestCommit(request.taskId, randomUUID()) };
    }),
    decommissionNode: unary(async (request) => {
      const node = requireNode(request.nodeId);
      if (node.state === "lost") throw new FailedPreconditionError(`node ${node.nodeId} is lost; there is nothing to decommission`);
      const deadlineMs = request.deadlineMs || resolveConf(options.baseConf, {})["ballast.decommission.deadline"];
      if (node.state !== "decommissioning" && node.state !== "decommissioned") {
        active().dispatch({ type: "decommissionNode", nodeId: node.nodeId, deadlineMs: Date.now() + deadlineMs, reason: "requested" });
      }
      return { node: nodeToWire(requireNode(node.nodeId)) };
    }),
    recommissionNode: unary(async (request) => {
      const node = requireNode(request.nodeId);
      if (node.state !== "decommissioning" && node.state !== "decommissioned") throw new FailedPreconditionError(`node ${node.nodeId} is ${node.state}, not decommissioning`);
      active().dispatch({ type: "recommissionNode", nodeId: node.nodeId });
      return { node: nodeToWire(requireNode(node.nodeId)) };
    }),
    getLeader: unary(async () => {
      const leader = options.leader();
      return { leaderAddress: leader.address, epoch: leader.epoch, isLeader: leader.isLeader };
    }),
  };
  return withStrictDecoding({ name: "ballast.v1.SchedulerService", definition: SchedulerServiceService, implementation });
}

/** A cancelled (or otherwise ended) application takes no new jobs: its driver must not go on. */
function refuseEndedApplication(shell: SchedulerShell, applicationId: string): void {
  const application = applicationId ? shell.application(applicationId) : undefined;
  if (application && application.status !== "running") {
    throw new FailedPreconditionError(`application ${applicationId} is ${application.status}${application.error ? ` (${application.error.message})` : ""}; it takes no new jobs`);
  }
}

/** A user's job records who submitted it, so its tasks get that user's staging space; the cluster's jobs use all of staging. */
function withOwner(conf: Record<string, string>, caller: Identity): Record<string, string> {
  return caller.role === "user" ? { ...conf, [JOB_OWNER_KEY]: caller.user } : { ...conf };
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

/** One executor's bidirectional session: registration, heartbeats and task updates in; launches, kills and shutdowns out. */
function runSession(options: SchedulerServiceOptions, active: () => SchedulerShell, call: SessionCall): void {
  const { logger } = options;
  let executorId: string | undefined;
  let shell: SchedulerShell | undefined;
  const { epoch } = options;
  const end = (code: number, message: string) => call.emit("error", Object.assign(new Error(message), { code, details: message }));
  const out = new LaunchBatcher((message) => call.write(message), epoch);
  const channel: ExecutorChannel = {
    launch: (task, traceparent) => out.launch(task, traceparent, jobTokenFor(task.conf[JOB_OWNER_KEY], task)),
    kill: (taskId, reason) => out.write({ message: { $case: "killTask", value: { taskId, reason, epoch: epoch() } } }),
    revoke: (taskId, reason) => out.write({ message: { $case: "revokeTasks", value: { taskIds: [taskId], reason, epoch: epoch() } } }),
    shutdown: (reason) => out.write({ message: { $case: "shutdown", value: { reason, epoch: epoch() } } }),
    freeCachedDataset: (applicationId, cacheKey) => out.write({ message: { $case: "freeCachedDataset", value: { applicationId, cacheKey, epoch: epoch() } } }),
    launchDriver: (applicationId, attempt, user) => out.write({ message: { $case: "launchDriver", value: { applicationId, attempt, token: driverTokenFor(user) ?? "", epoch: epoch() } } }),
    stopDriver: (applicationId, reason) => out.write({ message: { $case: "stopDriver", value: { applicationId, reason, epoch: epoch() } } }),
    close: (reason) => {
      out.flush();
      detach();
      end(status.UNAVAILABLE, `session closed by the scheduler: ${reason}; register again`);
    },
  };
  const detach = () => {
    if (executorId && shell) shell.detachExecutor(executorId, channel);
    executorId = undefined;
  };
  const lost = (reason: string) => {
    const id = executorId;
    if (id && shell?.detachExecutor(id, channel)) shell.dispatch({ type: "executorLost", executorId: id, reason });
    executorId = undefined;
  };
  call.on("data", (request: ExecutorSessionRequest) => {
    try {
      const message = request.message;
      if (!message) throw new InvalidArgumentError("empty session message");
      if (message.$case === "register") {
        if (executorId) throw new FailedPreconditionError(`executor ${executorId} is already registered on this session`);
        const r = message.value;
        const problem = registrationProblem(r);
        if (problem) throw new InvalidArgumentError(problem);
        shell = active();
        refuseImpostor(shell, r);
        executorId = r.executorId;
        shell.attachExecutor(r.executorId, channel);
        call.write({ message: { $case: "registerAck", value: { epoch: epoch(), heartbeatIntervalMs: options.heartbeatIntervalMs } } });
        shell.dispatch({ type: "executorRegistered", executor: { executorId: r.executorId, nodeId: r.nodeId, host: r.host, slots: r.slots, ...(r.queuedSlots > 0 && { queuedSlots: Math.min(r.queuedSlots, r.slots - 1) }), shuffleAddress: r.shuffleAddress, runningTaskIds: [...r.runningTaskIds], cachedPartitions: cachedPartitionRefsFromWire(r.cachedPartitions), runningDrivers: [...r.runningDrivers], ...(r.cachedOnDiskListed && { cachedOnDisk: cachedPartitionRefsFromWire(r.cachedOnDisk) }) } });
        logger.info({ executorId: r.executorId, nodeId: r.nodeId, running: r.runningTaskIds.length }, "executor registered");
        return;
      }
      if (!executorId || !shell) throw new InvalidArgumentError("the first session message must be register");
      for (const input of sessionMessagesToInputs(executorId, message)) shell.dispatch(input);
    } catch (err) {
      logger.warn({ err: (err as Error).message, executorId }, "session refused or broken");
      lost(`session error: ${(err as Error).message}`);
      call.emit("error", Object.assign(new Error((err as Error).message), toServiceError(err)));
    }
  });
  call.on("end", () => {
    lost("executor closed its session");
    call.end();
  });
  call.on("error", (err) => lost(`session broke: ${err.message}`));
  call.on("cancelled", () => lost("session cancelled"));
}

/**
 * An id that is live on another session belongs to another process unless it
 * comes back from the same node with the same shuffle address (an executor
 * reconnecting before its old session was seen broken: that one is replaced).
 */
function refuseImpostor(shell: SchedulerShell, r: { executorId: string; nodeId: string; shuffleAddress: string }): void {
  if (!shell.hasSession(r.executorId)) return;
  const live = shell.executors().find((e) => e.executorId === r.executorId && e.alive);
  if (live && (live.nodeId !== r.nodeId || live.shuffleAddress !== r.shuffleAddress)) {
    throw new AlreadyExistsError(`executor ${r.executorId} is live on node ${live.nodeId} at ${live.shuffleAddress}; choose another executor_id`);
  }
}
