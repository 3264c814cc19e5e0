import { InvalidArgumentError } from "./errors.js";

/**
 * One typed schema for every `ballast.*` key: type, default, unit, doc.
 * Jobs pass `--conf key=value`; services also read BALLAST_* environment
 * variables (dots become underscores, upper case).
 */
type KeyType = "int" | "bool" | "duration" | "bytes" | "ratio" | "number";

interface KeySpec {
  type: KeyType;
  default: string;
  doc: string;
  min?: number;
  max?: number;
  /**
   * Read once by a process (the scheduler), not per job: a job's `--conf` cannot change it, so it
   * is refused there rather than silently ignored.
   */
  process?: true;
}

export const CONF_SCHEMA = {
  "ballast.task.maxFailures": { type: "int", default: "4", min: 1, doc: "attempts per task before the job aborts; also how many executors may be lost under one task (it may be what kills them) before the job aborts" },
  "ballast.task.timeout": { type: "duration", default: "0", min: 0, doc: "a task attempt running longer is killed and counted as a failure (retried, then the job aborts after maxFailures); 0: no limit" },
  "ballast.stage.maxConsecutiveAttempts": { type: "int", default: "4", min: 1, doc: "consecutive attempts of one stage before the job aborts" },
  "ballast.stage.ignoreDecommissionFetchFailure": { type: "bool", default: "true", doc: "fetch failures caused by decommission do not count as stage attempts" },
  "ballast.executor.heartbeatInterval": { type: "duration", default: "1s", min: 10, doc: "how often executors heartbeat" , process: true },
  "ballast.executor.heartbeatTimeout": { type: "duration", default: "5s", min: 100, doc: "an executor silent this long is lost" , process: true },
  "ballast.scheduler.resubmitDelay": { type: "duration", default: "200ms", min: 0, doc: "fetch failures within this window are batched into one resubmission" },
  "ballast.scheduler.jobRetention": { type: "duration", default: "600s", min: 0, doc: "an ended job leaves the scheduler's memory this long after it ended (history keeps it)", process: true },
  "ballast.scheduler.retainedJobs": { type: "int", default: "200", min: 1, doc: "ended jobs the scheduler holds at most; beyond, the oldest leave at once (history keeps them)", process: true },
  "ballast.scheduler.applicationResults": { type: "bytes", default: "64m", min: 0, doc: "collected bytes of an application's finished actions its record keeps (an action beyond it is not recorded: a resumed driver reruns it)", process: true },
  "ballast.scheduler.applicationRetention": { type: "duration", default: "86400s", min: 0, doc: "an ended application (its program, conf and every action's recorded result) leaves the scheduler's memory this long after its driver finished", process: true },
  "ballast.driver.maxFailures": { type: "int", default: "3", min: 1, doc: "a detached application's driver (`submit --detach`) is placed again after a crash exit or a lost host until it failed this often; then the application fails" },
  "ballast.history.retainedJobs": { type: "int", default: "0", min: 0, doc: "history keeps the newest this many ended jobs per application, with their events and projections (0: all)", process: true },
  "ballast.history.retention": { type: "duration", default: "0", min: 0, doc: "history forgets ended jobs older than this, with their events and projections (0: never)", process: true },
  "ballast.staging.abandonedUploadTimeout": { type: "duration", default: "1h", min: 1, doc: "staging removes an upload nobody has written to for this long (never finished)", process: true },
  "ballast.staging.unnamedBlobRetention": { type: "duration", default: "24h", min: 1, doc: "staging removes blobs no name points at (a denied attempt's output, a removed name's blob) this long after they were stored", process: true },
  "ballast.staging.bundleRetention": { type: "duration", default: "168h", min: 0, doc: "staging removes a job bundle (bundles/<sha256>.mjs, uploaded by ballast submit) not uploaded again for this long; keep it above the longest job; 0: keep bundles", process: true },
  "ballast.scheduler.leaseTimeout": { type: "duration", default: "5s", min: 100, doc: "scheduler leadership lease" , process: true },
  "ballast.scheduler.recovery.executorReconnectTimeout": { type: "duration", default: "30s", min: 0, doc: "how long a recovering scheduler waits for executors" , process: true },
  "ballast.shuffle.io.maxRetries": { type: "int", default: "3", min: 0, doc: "fetch retries before FetchFailed" },
  "ballast.shuffle.io.retryWait": { type: "duration", default: "500ms", min: 0, doc: "first fetch retry backoff (doubles, with jitter)" },
  "ballast.shuffle.io.maxRetryWait": { type: "duration", default: "10s", min: 0, doc: "cap of the fetch retry backoff" },
  "ballast.shuffle.hostLocal": { type: "bool", default: "true", doc: "an executor sharing its node shuffle service's file system writes map outputs and reads that node's blocks through the files (the service adopts and indexes them) instead of streaming the bytes over gRPC; checked by a token file, gRPC otherwise", process: true },
  "ballast.executor.memory": { type: "bytes", default: "256m", min: 1, doc: "estimated bytes one task's reduce-side aggregation, groupByKey, join or sort holds before it spills sorted runs to the executor's local disk" },
  "ballast.executor.totalMemory": { type: "bytes", default: "1g", min: 320 * 1024 * 1024, doc: "memory of one executor process: 256m for its main thread and ballast.executor.cacheMemory for persisted partitions, the rest split among its slots' worker heaps, each of which caps its tasks' ballast.executor.memory at half its size", process: true },
  "ballast.executor.cacheSize": { type: "bytes", default: "2g", min: 1, doc: "bytes each of an executor's disk caches (downloaded bundles, staged inputs) holds; least recently used files go first", process: true },
  "ballast.executor.cacheMemory": { type: "bytes", default: "256m", min: 0, doc: "bytes of persisted partitions (\"memory\", \"memory_and_disk\") an executor holds in memory; beyond, the least recently used are evicted and reported (0: none kept)", process: true },
  "ballast.result.maxSize": { type: "bytes", default: "15m", min: 1, max: 15 * 1024 * 1024, doc: "largest collect result of a job, all its partitions together (it travels in one gRPC message of at most 16m)" },
  "ballast.excludeOnFailure.enabled": { type: "bool", default: "true", doc: "exclude executors and nodes that keep failing tasks" },
  "ballast.excludeOnFailure.timeout": { type: "duration", default: "1h", min: 0, doc: "how long an exclusion lasts" },
  "ballast.excludeOnFailure.maxExcludedNodeRatio": { type: "ratio", default: "0.33", doc: "never exclude more than this share of nodes" },
  "ballast.excludeOnFailure.task.maxTaskAttemptsPerExecutor": { type: "int", default: "1", min: 1, doc: "failed attempts of one task on an executor before that task avoids it" },
  "ballast.excludeOnFailure.task.maxTaskAttemptsPerNode": { type: "int", default: "2", min: 1, doc: "failed attempts of one task on a node before that task avoids it" },
  "ballast.excludeOnFailure.stage.maxFailedTasksPerExecutor": { type: "int", default: "2", min: 1, doc: "failed tasks of one stage on an executor before the stage avoids it" },
  "ballast.excludeOnFailure.stage.maxFailedExecutorsPerNode": { type: "int", default: "2", min: 1, doc: "executors excluded for a stage on a node before the stage avoids the node" },
  "ballast.excludeOnFailure.application.maxFailedTasksPerExecutor": { type: "int", default: "2", min: 1, doc: "failed tasks (in successful stages) on an executor before it is excluded" },
  "ballast.excludeOnFailure.application.maxFailedExecutorsPerNode": { type: "int", default: "2", min: 1, doc: "excluded executors on a node before the node is excluded" },
  "ballast.excludeOnFailure.killExcludedExecutors": { type: "bool", default: "false", doc: "ask excluded executors to exit" },
  "ballast.excludeOnFailure.unschedulableTimeout": { type: "duration", default: "120s", min: 0, doc: "a task set that can run nowhere because of exclusions aborts after this" },
  "ballast.excludeOnFailure.nodeScore.halfLife": { type: "duration", default: "1h", min: 1, doc: "half-life of the cross-job node failure score" , process: true },
  "ballast.excludeOnFailure.nodeScore.threshold": { type: "ratio", default: "0.5", doc: "decayed share of failed task attempts on a node above which it is excluded across jobs" , process: true },
  "ballast.decommission.deadline": { type: "duration", default: "120s", min: 0, doc: "default time a decommissioning node has to drain and migrate" , process: true },
  "ballast.decommission.migrationParallelism": { type: "int", default: "4", min: 1, max: 16, doc: "map outputs a decommissioning shuffle service copies at once" , process: true },
  "ballast.scheduler.queuedWork": { type: "duration", default: "100ms", min: 0, doc: "how much work an executor queues beyond its slots for a stage: as many of its tasks per slot as take this long at the stage's mean task time so far, at least one, at most the executor's --queue (short tasks go in large batches; a long one queues one per slot)" },
  "ballast.scheduler.takeBack.enabled": { type: "bool", default: "true", doc: "ask queued tasks back from busier executors for ones with room (an executor gives back only tasks it has not started; a started one runs on)", process: true },
  "ballast.speculation.enabled": { type: "bool", default: "false", doc: "launch a copy of tasks much slower than their stage's finished ones (as Spark)" },
  "ballast.speculation.multiplier": { type: "number", default: "1.5", min: 1, doc: "a task runs this many times longer than the median of its stage's finished tasks before it is copied" },
  "ballast.speculation.quantile": { type: "ratio", default: "0.75", doc: "share of a stage attempt's tasks that must have finished before any is copied" },
  "ballast.speculation.minTaskRuntime": { type: "duration", default: "100ms", min: 0, doc: "tasks that ran less than this are never copied as slow" },
} satisfies Record<string, KeySpec>;

export type ConfKey = keyof typeof CONF_SCHEMA;
type ValueOf<T extends KeyType> = T extends "bool" ? boolean : number;
export type Conf = { [K in ConfKey]: ValueOf<(typeof CONF_SCHEMA)[K]["type"]> };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const BYTE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

function parseWithUnit(raw: string, units: Record<string, number>, defaultUnit: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  if (!match) return undefined;
  const factor = units[(match[2] || defaultUnit).toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

function parseValue(key: string, spec: KeySpec, raw: string): number | boolean {
  const fail = (expected: string): never => {
    throw new InvalidArgumentError(`invalid value for ${key}: "${raw}" (expected ${expected}; ${spec.doc})`);
  };
  let value: number;
  switch (spec.type) {
    case "bool":
      if (raw !== "true" && raw !== "false") fail("true or false");
      return raw === "true";
    case "int":
      if (!/^\s*-?\d+\s*$/.test(raw)) fail("an integer");
      value = Number(raw);
      break;
    case "ratio":
      value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value) || value < 0 || value > 1) fail("a number between 0 and 1");
      break;
    case "number":
      value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value)) fail("a number");
      break;
    case "duration":
      value = parseWithUnit(raw, DURATION_UNITS, "ms") ?? fail("a duration like 500ms, 5s, 1h");
      break;
    case "bytes":
      value = parseWithUnit(raw, BYTE_UNITS, "") ?? fail("a size like 512k, 64m, 1g");
      break;
  }
  if (spec.min !== undefined && (value as number) < spec.min) fail(`at least ${spec.min}`);
  if (spec.max !== undefined && (value as number) > spec.max) fail(`at most ${spec.max}`);
  return value;
}

/** Validates user-supplied overrides; throws InvalidArgumentError naming the bad key. */
/**
 * Who submitted a job: set by the scheduler from the caller's token (never by the job), carried in
 * the job's conf to its launches so each gets a staging token for that user's space. Not a setting.
 */
export const JOB_OWNER_KEY = "ballast.job.owner";

export function validateConf(overrides: Record<string, string>): void {
  for (const [key, raw] of Object.entries(overrides)) {
    if (key === JOB_OWNER_KEY) continue;
    const spec = (CONF_SCHEMA as Record<string, KeySpec>)[key];
    if (!spec) throw new InvalidArgumentError(`unknown configuration key: ${key}${suggestKey(key)}`);
    parseValue(key, spec, raw);
  }
}

/**
 * Validates a job's overrides (`ballast submit --conf`, SubmitJob's conf): valid keys and values,
 * and none a job cannot set, with where such a key belongs instead.
 */
export function validateJobConf(overrides: Record<string, string>): void {
  validateConf(overrides);
  for (const key of Object.keys(overrides)) {
    if (key === JOB_OWNER_KEY) throw new InvalidArgumentError(`${key} is set by the scheduler from the submitter's token, not by a job`);
    if ((CONF_SCHEMA as Record<string, KeySpec>)[key]!.process) {
      throw new InvalidArgumentError(
        `${key} is a process setting, not a job's: set it where the scheduler starts (ballast-scheduler --conf ${key}=VALUE or ${envName(key)}=VALUE in its environment)`,
      );
    }
  }
}

/** The ballast.* values set in the environment as BALLAST_* variables, validated; names the variable when one is bad. */
export function confFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(CONF_SCHEMA as Record<string, KeySpec>)) {
    const raw = env[envName(key)];
    if (raw === undefined) continue;
    try {
      parseValue(key, spec, raw);
    } catch (err) {
      throw new InvalidArgumentError(`${envName(key)}: ${(err as Error).message}`);
    }
    out[key] = raw;
  }
  return out;
}

/** The full typed configuration: defaults, then environment, then overrides. */
export function resolveConf(overrides: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Conf {
  validateConf(overrides);
  const conf: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONF_SCHEMA as Record<string, KeySpec>)) {
    const raw = overrides[key] ?? env[envName(key)] ?? spec.default;
    conf[key] = parseValue(key, spec, raw);
  }
  return conf as Conf;
}

export function envName(key: string): string {
  return key.replace(/\./g, "_").toUpperCase();
}

/** Parses ["a=b", ...] from the command line into a map, rejecting malformed entries (a process's own settings). */
export function parseConfPairs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(`--conf expects key=value, got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  validateConf(out);
  return out;
}

/** Like parseConfPairs, for a job's `--conf`: refuses keys only a process reads. */
export function parseJobConfPairs(pairs: string[]): Record<string, string> {
  const out = parseConfPairs(pairs);
  validateJobConf(out);
  return out;
}

function suggestKey(key: string): string {
  const lower = key.toLowerCase();
  const close = Object.keys(CONF_SCHEMA).find((k) => k.toLowerCase() === lower || k.toLowerCase().endsWith(lower.split(".").pop() ?? "\0"));
  return close ? ` (did you mean ${close}?)` : "";
}
