import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { SECURITY_USAGE, serviceSecurityOrExit } from "@ballast/common/security";
import { checkAddress, parseFlagsOrExit, parseServiceFlags, UsageError, type FlagDoc } from "@ballast/common/flags";
import { createLogger } from "@ballast/common/logging";
import { resolveConf } from "@ballast/common/config";
import { describeError } from "@ballast/common/errors";
import { initTelemetry, shutdownTelemetry } from "@ballast/common/telemetry";
import { flushAndExit, guardProcess } from "@ballast/common/lifecycle";
import { Executor, type ExecutorOptions } from "./executor.js";
import { FaultHook, FaultSpecError, parseFaultSpec } from "./tasks/faults.js";

/** Tasks queued per slot unless --queue says otherwise (see parse). */
const DEFAULT_QUEUE_PER_SLOT = 32;

type Flags = Omit<ExecutorOptions, "logger" | "reconnect" | "staging" | "shuffleClient" | "onShutdownRequested"> & {
  /** How long SIGTERM waits for the node's decommission before exiting. */
  decommissionWaitMs: number;
};

const FLAGS = {
  scheduler: { value: "host:port,...", help: "scheduler addresses, active and standbys, comma-separated (env BALLAST_SCHEDULER_ADDRESSES or BALLAST_SCHEDULER, required)" },
  shuffle: { value: "host:port", help: "this node's shuffle service (env BALLAST_SHUFFLE, required)" },
  staging: { value: "host:port", help: "staging service (env BALLAST_STAGING, required)" },
  "node-id": { value: "id", help: "this node's id (env BALLAST_NODE_ID, required)" },
  "executor-id": { value: "id", help: "executor id (env BALLAST_EXECUTOR_ID, default <node-id>-exec-<pid>-<start time>, unique across restarts)" },
  slots: { value: "n", help: "tasks run at once (env BALLAST_SLOTS, default: the machine's cores)" },
  queue: { value: "n", help: `tasks accepted beyond --slots, queued here to hide the scheduler round trip of short tasks; the scheduler fills it only with short ones (ballast.scheduler.queuedWork) (env BALLAST_TASK_QUEUE, default: ${DEFAULT_QUEUE_PER_SLOT} per slot; 0: one task per slot)` },
  host: { value: "host", help: "the node's address, reported on register (env BALLAST_HOST, default 127.0.0.1)" },
  address: { value: "host:port", help: "ExecutorService listen address (env BALLAST_ADDRESS, default <host>:0)" },
  "data-dir": { value: "dir", help: "bundle and input cache, temp files (env BALLAST_DATA_DIR, required)" },
  "decommission-wait": { value: "duration", help: "on SIGTERM, how long to wait for the node's decommission before exiting (env BALLAST_DECOMMISSION_WAIT, default ballast.decommission.deadline, 120s)" },
} satisfies Record<string, FlagDoc>;

type FlagName = keyof typeof FLAGS;

function parseFlags(argv: string[], env: NodeJS.ProcessEnv): Flags {
  const raw = parseServiceFlags("ballast-executor", "Ballast executor: registers with the scheduler and runs tasks in worker threads", FLAGS, argv.slice(2), `Security:\n${SECURITY_USAGE}`);
  const flag = (name: FlagName, envName: string) => raw[name] ?? env[envName];
  const required = (name: FlagName, option: string, envName: string) => {
    const value = flag(name, envName)?.trim();
    if (!value) throw new UsageError(`${option} (or ${envName}) is required`);
    return value;
  };
  const nodeId = required("node-id", "--node-id", "BALLAST_NODE_ID");
  const slots = checkSlots(flag("slots", "BALLAST_SLOTS") ?? String(availableParallelism()));
  const host = flag("host", "BALLAST_HOST") ?? "127.0.0.1";
  const schedulers = raw.scheduler ?? (env.BALLAST_SCHEDULER_ADDRESSES?.trim() || env.BALLAST_SCHEDULER);
  if (!schedulers?.trim()) throw new UsageError("--scheduler (or BALLAST_SCHEDULER_ADDRESSES) is required");
  return {
    schedulerAddresses: schedulers.split(",").map((address) => checkAddress("--scheduler", address.trim())),
    shuffleAddress: checkAddress("--shuffle", required("shuffle", "--shuffle", "BALLAST_SHUFFLE")),
    stagingAddress: checkAddress("--staging", required("staging", "--staging", "BALLAST_STAGING")),
    nodeId,
    // pid plus start time: an executor restarted on the same node (even with a recycled pid) is a new executor.
    executorId: flag("executor-id", "BALLAST_EXECUTOR_ID") ?? `${nodeId}-exec-${process.pid}-${Date.now().toString(36)}`,
    slots,
    // Up to 32 tasks waiting per slot: the scheduler fills the queue that deep only with short tasks
    // (ballast.scheduler.queuedWork; a long task queues one per slot), and each turn's batch of
    // launches and updates grows with it (empty tasks: 2.4x the rate of a queue of four). Take-back
    // (on by default) asks back what a busy node has not started when another has room.
    queuedTasks: checkQueue(flag("queue", "BALLAST_TASK_QUEUE") ?? String(DEFAULT_QUEUE_PER_SLOT * slots)),
    host,
    address: checkAddress("--address", flag("address", "BALLAST_ADDRESS") ?? `${host}:0`),
    dataDir: resolve(required("data-dir", "--data-dir", "BALLAST_DATA_DIR")),
    decommissionWaitMs: checkDuration(flag("decommission-wait", "BALLAST_DECOMMISSION_WAIT"), env),
    taskEventsFile: env.BALLAST_TEST_TASK_EVENTS_FILE || undefined,
    faults: faultHookOf(env.BALLAST_TEST_FAULTS, nodeId),
  };
}

/** Parses a duration with the conf schema's rules (500ms, 5s, 2m); absent: ballast.decommission.deadline. */
function checkDuration(value: string | undefined, env: NodeJS.ProcessEnv): number {
  try {
    return resolveConf(value === undefined ? {} : { "ballast.decommission.deadline": value }, env)["ballast.decommission.deadline"];
  } catch (err) {
    throw new UsageError(`--decommission-wait: ${describeError(err)}`);
  }
}

function faultHookOf(json: string | undefined, nodeId: string): FaultHook | undefined {
  if (!json) return undefined;
  try {
    return new FaultHook(parseFaultSpec(json), nodeId);
  } catch (err) {
    if (err instanceof FaultSpecError) throw new UsageError(err.message);
    throw err;
  }
}

function checkSlots(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > 256) {
    throw new UsageError(`--slots must be an integer from 1 to 256, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function checkQueue(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) > 1024) throw new UsageError(`--queue must be an integer from 0 to 1024, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function main(): Promise<void> {
  const flags = parseFlagsOrExit("ballast-executor", () => parseFlags(serviceSecurityOrExit("ballast-executor", process.argv), process.env));
  await initTelemetry("ballast-executor");
  const logger = createLogger("executor", { nodeId: flags.nodeId, executorId: flags.executorId });
  guardProcess(logger);
  let executor: Executor;
  let stopping = false;
  /** The hard stop: kill running tasks (reported KILLED while connected), close the session, exit 0. */
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "stopping: killing running tasks and closing the scheduler session");
    await executor.stop();
    await shutdownTelemetry();
    logger.info("stopped");
    flushAndExit(logger, 0);
  };
  const { decommissionWaitMs, ...options } = flags;
  try {
    executor = await Executor.start({ ...options, logger, onShutdownRequested: (reason) => void stop(`scheduler shutdown: ${reason}`) });
  } catch (err) {
    logger.fatal({ err, address: flags.address }, "executor failed to start");
    flushAndExit(logger, 1);
    return;
  }
  // SIGTERM decommissions the node and waits for the handover; a second SIGTERM, or SIGINT, stops at once.
  let decommissioning = false;
  process.on("SIGTERM", () => {
    if (decommissioning || stopping) return void stop("second SIGTERM");
    decommissioning = true;
    logger.info({ waitMs: decommissionWaitMs }, "SIGTERM: decommissioning this node before exiting");
    void executor
      .decommission(decommissionWaitMs)
      .catch((err) => logger.error({ err: describeError(err) }, "decommission drain failed"))
      .then(() => stop("decommissioned"));
  });
  process.on("SIGINT", () => void stop("SIGINT"));
}

await main();
