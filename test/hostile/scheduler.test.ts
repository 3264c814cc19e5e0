// Hostile input to the scheduler: numbers, ids, plans, executor sessions and results, against a real cluster.
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionKind, JobStatus, type DatasetNode, type Plan } from "@ballast/gen/common";
import { SchedulerServiceClient, type ExecutorSessionRequest, type ExecutorSessionResponse, type RegisterExecutor } from "@ballast/gen/scheduler";
import { call, createClient, isServing } from "@ballast/common/grpc";
import { LIMITS } from "@ballast/common/limits";
import { lastJson, runCli } from "../support/cluster.js";
import { ABOVE_2_53, expectClusterHealthy, expectStatus, pb, rawStream, rawUnary, startHostileCluster, type TestCluster } from "./support.js";

let cluster: TestCluster;
let scheduler: InstanceType<typeof SchedulerServiceClient>;

beforeAll(async () => {
  cluster = await startHostileCluster();
  scheduler = createClient(SchedulerServiceClient, cluster.scheduler);
});

afterAll(async () => {
  scheduler?.close();
  await cluster?.stop();
});

const SERVICE = "/ballast.v1.SchedulerService";
const DIGEST = "a".repeat(64);
const long = (n: number) => "x".repeat(n);
const listJobs = async () => (await call(scheduler.listJobs.bind(scheduler), { pageSize: LIMITS.datasets / 10, pageToken: "", applicationId: "" })).jobs;

describe("numbers that do not fit and bytes that do not decode are INVALID_ARGUMENT", () => {
  const cases: Array<[string, string, Buffer, RegExp]> = [
    ["DecommissionNode deadline_ms above 2^53", "DecommissionNode", Buffer.concat([pb.bytes(1, "node-1"), pb.varint(2, ABOVE_2_53)]), /above 2\^53/],
    ["GetJob with a truncated field", "GetJob", pb.truncated(1), /does not decode/],
    ["SubmitJob with a truncated plan", "SubmitJob", pb.truncated(1), /does not decode/],
    ["ListJobs page_size above the maximum, raw", "ListJobs", pb.varint(1, 5000n), /page_size/],
    ["AuthorizeCommit with a garbage tag", "AuthorizeCommit", Buffer.from([0xff, 0xff, 0xff]), /does not decode/],
  ];
  it.each(cases)("%s", async (_name, method, bytes, details) => {
    await expectStatus(rawUnary(cluster.scheduler, `${SERVICE}/${method}`, bytes), status.INVALID_ARGUMENT, details);
  });

  it("an executor session whose register carries last_epoch above 2^53 ends INVALID_ARGUMENT", async () => {
    const register = Buffer.concat([pb.bytes(1, "exec-big"), pb.bytes(2, "node-big"), pb.varint(4, 1n), pb.bytes(5, "127.0.0.1:1"), pb.varint(8, ABOVE_2_53)]);
    await expectStatus(rawStream(cluster.scheduler, `${SERVICE}/ExecutorSession`, [pb.bytes(1, register)], "bidi"), status.INVALID_ARGUMENT, /above 2\^53/);
  });

  it("ListJobs refuses a page size above the maximum and a token it never gave", async () => {
    await expectStatus(call(scheduler.listJobs.bind(scheduler), { pageSize: 100_000, pageToken: "", applicationId: "" }), status.INVALID_ARGUMENT, /page_size/);
    await expectStatus(call(scheduler.listJobs.bind(scheduler), { pageSize: 0, pageToken: "job-9999", applicationId: "" }), status.INVALID_ARGUMENT, /page_token/);
  });
});

describe("empty, over-long and control-character ids are INVALID_ARGUMENT", () => {
  const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
    ["GetJob without job_id", () => call(scheduler.getJob.bind(scheduler), { jobId: "" }), status.INVALID_ARGUMENT, /job_id is required/],
    ["GetJob with a 201-character job_id", () => call(scheduler.getJob.bind(scheduler), { jobId: long(201) }), status.INVALID_ARGUMENT, /longer than 200/],
    ["GetJob with a newline in job_id", () => call(scheduler.getJob.bind(scheduler), { jobId: "job-1\nforged" }), status.INVALID_ARGUMENT, /control character/],
    ["GetJob of an unknown job", () => call(scheduler.getJob.bind(scheduler), { jobId: "job-424242" }), status.NOT_FOUND, /unknown job/],
    ["CancelJob without job_id", () => call(scheduler.cancelJob.bind(scheduler), { jobId: "" }), status.INVALID_ARGUMENT, /job_id is required/],
    ["CancelJob with an escape character", () => call(scheduler.cancelJob.bind(scheduler), { jobId: "\u001b[2J" }), status.INVALID_ARGUMENT, /control character/],
    ["DecommissionNode with a 300-character node_id", () => call(scheduler.decommissionNode.bind(scheduler), { nodeId: long(300), deadlineMs: 0 }), status.INVALID_ARGUMENT, /longer than 200/],
    ["RecommissionNode without node_id", () => call(scheduler.recommissionNode.bind(scheduler), { nodeId: "" }), status.INVALID_ARGUMENT, /node_id is required/],
    ["DecommissionNode of an unknown node", () => call(scheduler.decommissionNode.bind(scheduler), { nodeId: "node-nope", deadlineMs: 0 }), status.NOT_FOUND, /unknown node/],
    ["AuthorizeCommit without task_id", () => call(scheduler.authorizeCommit.bind(scheduler), { taskId: "" }), status.INVALID_ARGUMENT, /task_id is required/],
    ["AuthorizeCommit with a 1000-character task_id", () => call(scheduler.authorizeCommit.bind(scheduler), { taskId: long(1000) }), status.INVALID_ARGUMENT, /longer than 200/],
    ["WatchJob with an over-long job_id", () => watchOnce({ jobId: long(500) }), status.INVALID_ARGUMENT, /longer than 200/],
  ];
  it.each(cases)("%s", async (_name, request, code, details) => {
    await expectStatus(request(), code, details);
  });
});

// ------------------------------------------------------------ applications

const registerApplication = (extra: { applicationId?: string; name?: string; bundleDigest?: string; args?: string[]; conf?: Record<string, string> } = {}) =>
  call(scheduler.registerApplication.bind(scheduler), { applicationId: "app-hostile", name: "hostile", bundleDigest: DIGEST, args: [], conf: {}, detached: false, ...extra });

describe("application records refuse what they cannot hold, before anything is logged", () => {
  const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
    ["RegisterApplication without application_id", () => registerApplication({ applicationId: "" }), status.INVALID_ARGUMENT, /application_id is required/],
    ["RegisterApplication with a newline in application_id", () => registerApplication({ applicationId: "app\nforged" }), status.INVALID_ARGUMENT, /control character/],
    ["RegisterApplication with a 201-character name", () => registerApplication({ name: long(201) }), status.INVALID_ARGUMENT, /name is longer than 200/],
    ["RegisterApplication with a bundle digest that is not sha256", () => registerApplication({ bundleDigest: "../../etc/passwd" }), status.INVALID_ARGUMENT, /bundle_digest/],
    ["RegisterApplication with too many arguments", () => registerApplication({ args: Array.from({ length: LIMITS.args + 1 }, () => "a") }), status.INVALID_ARGUMENT, /arguments; at most/],
    ["RegisterApplication with an unknown conf key", () => registerApplication({ conf: { "ballast.nope": "1" } }), status.INVALID_ARGUMENT, /ballast.nope/],
    ["RegisterApplication setting a process conf key", () => registerApplication({ conf: { "ballast.scheduler.applicationRetention": "1s" } }), status.INVALID_ARGUMENT, /process setting/],
    ["GetApplicationRecord of an unknown application", () => call(scheduler.getApplicationRecord.bind(scheduler), { applicationId: "app-nope" }), status.NOT_FOUND, /unknown application/],
    ["FinishApplication of an unknown application", () => call(scheduler.finishApplication.bind(scheduler), { applicationId: "app-nope", status: JobStatus.JOB_STATUS_SUCCEEDED, errorMessage: "" }), status.NOT_FOUND, /unknown application/],
  ];
  it.each(cases)("%s", async (_name, request, code, details) => {
    await expectStatus(request(), code, details);
  });

  it("a registered application refuses a finish as RUNNING, or with an over-long or unknown status", async () => {
    await registerApplication();
    const finish = (statusValue: number, errorMessage = "") => call(scheduler.finishApplication.bind(scheduler), { applicationId: "app-hostile", status: statusValue, errorMessage });
    await expectStatus(finish(JobStatus.JOB_STATUS_RUNNING), status.INVALID_ARGUMENT, /SUCCEEDED, FAILED or CANCELLED/);
    await expectStatus(finish(99), status.INVALID_ARGUMENT, /unknown/);
    await expectStatus(finish(JobStatus.JOB_STATUS_FAILED, long(LIMITS.messageLength + 1)), status.INVALID_ARGUMENT, /error_message is longer/);
    const { application } = await call(scheduler.getApplicationRecord.bind(scheduler), { applicationId: "app-hostile" });
    expect(application?.status).toBe(JobStatus.JOB_STATUS_RUNNING);
  });
});

function watchOnce(request: { jobId: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = scheduler.watchJob(request);
    stream.on("data", () => undefined);
    stream.on("error", reject);
    stream.on("end", resolve);
  });
}

// ------------------------------------------------------------------ plans

const dataset = (id: number, parentIds: number[] = [], numPartitions = 1): DatasetNode => ({ id, op: parentIds.length ? "map" : "range", parentIds, numPartitions, wide: false, callSite: "hostile.ts:1", uri: "", storageLevel: "", cacheKey: "" });
const chain = (length: number): DatasetNode[] => Array.from({ length }, (_, i) => dataset(i, i === 0 ? [] : [i - 1]));

function plan(overrides: Partial<Plan> = {}): Plan {
  const datasets = overrides.datasets ?? [dataset(0)];
  return {
    jobName: "hostile",
    datasets,
    shuffles: [],
    finalDatasetId: datasets[datasets.length - 1]?.id ?? 0,
    action: ActionKind.ACTION_KIND_COUNT,
    outputUri: "",
    args: [],
    inputs: [],
    graphHash: "h",
    driver: undefined,
    ...overrides,
  };
}

const submit = (p: Plan | undefined, extra: { conf?: Record<string, string>; bundleDigest?: string; submissionId?: string } = {}) =>
  call(scheduler.submitJob.bind(scheduler), { plan: p, bundleDigest: extra.bundleDigest ?? DIGEST, conf: extra.conf ?? {}, submissionId: extra.submissionId ?? "", applicationId: "" });

describe("plans are bounded and well formed at SubmitJob, before anything is logged", () => {
  let jobsBefore = 0;
  beforeAll(async () => {
    jobsBefore = (await listJobs()).length;
  });

  const cases: Array<[string, () => Plan | undefined, RegExp, { conf?: Record<string, string>; bundleDigest?: string; submissionId?: string }?]> = [
    ["no plan", () => undefined, /plan is required/],
    ["no datasets", () => plan({ datasets: [], finalDatasetId: 0 }), /no datasets/],
    ["more datasets than allowed", () => plan({ datasets: chain(LIMITS.datasets + 1) }), /10001 datasets/],
    ["a dataset with more partitions than allowed", () => plan({ datasets: [dataset(0, [], LIMITS.partitions + 1)] }), /invalid partition count/],
    ["more partitions in all than allowed", () => plan({ datasets: Array.from({ length: 11 }, (_, i) => dataset(i, i ? [i - 1] : [], LIMITS.partitions)) }), /partitions in all/],
    ["a chain deeper than allowed", () => plan({ datasets: chain(LIMITS.planDepth + 1) }), /datasets deep/],
    ["a chain of 9,999 (no stack overflow)", () => plan({ datasets: chain(9_999) }), /datasets deep/],
    ["a two-dataset cycle", () => plan({ datasets: [dataset(0, [1]), dataset(1, [0])], finalDatasetId: 1 }), /cycle/],
    ["a dataset that is its own parent", () => plan({ datasets: [dataset(0, [0])] }), /cycle/],
    ["a long cycle behind a valid head", () => plan({ datasets: [...chain(500).map((d, i) => (i === 0 ? { ...d, parentIds: [499] } : d))], finalDatasetId: 499 }), /cycle/],
    ["a duplicate dataset id", () => plan({ datasets: [dataset(0), dataset(0)] }), /appears twice/],
    ["an unknown parent", () => plan({ datasets: [dataset(0), dataset(1, [7])] }), /unknown parent 7/],
    ["a final dataset that is not in the plan", () => plan({ finalDatasetId: 99 }), /final dataset 99/],
    ["a dataset with no partitions", () => plan({ datasets: [dataset(0, [], 0)] }), /no partitions/],
    ["more parents than allowed", () => plan({ datasets: [...Array.from({ length: LIMITS.parents + 1 }, (_, i) => dataset(i)), dataset(LIMITS.parents + 1, Array.from({ length: LIMITS.parents + 1 }, (_, i) => i))] }), /parents/],
    ["a shuffle at the wrong position", () => plan({ datasets: [dataset(0), { ...dataset(1, [0]), wide: true }], shuffles: [{ shuffleIndex: 3, parentDatasetId: 0, childDatasetId: 1, numReducePartitions: 1, rangePartitioned: false }] }), /index 3/],
    ["a shuffle naming an unknown dataset", () => plan({ shuffles: [{ shuffleIndex: 0, parentDatasetId: 5, childDatasetId: 0, numReducePartitions: 1, rangePartitioned: false }] }), /unknown dataset/],
    ["a 201-character job name", () => plan({ jobName: long(201) }), /job name is longer than 200/],
    ["a job name with a newline", () => plan({ jobName: "ok\nforged log line" }), /control character/],
    ["a call site with a control character", () => plan({ datasets: [{ ...dataset(0), callSite: "a\u0000b" }] }), /control character/],
    ["more arguments than allowed", () => plan({ args: Array.from({ length: LIMITS.args + 1 }, () => "-x") }), /arguments/],
    ["an unspecified action", () => plan({ action: ActionKind.ACTION_KIND_UNSPECIFIED }), /unknown action kind/],
    ["no graph hash", () => plan({ graphHash: "" }), /no graph hash/],
    ["a bundle digest that is not sha256", () => plan(), /bundle_digest/, { bundleDigest: "../../etc/passwd" }],
    ["an unknown conf key", () => plan(), /unknown configuration key/, { conf: { "ballast.no.such": "1" } }],
    ["a result limit above what one message holds", () => plan(), /ballast\.result\.maxSize/, { conf: { "ballast.result.maxSize": "64m" } }],
    ["an over-long submission id", () => plan(), /submission_id is longer/, { submissionId: long(300) }],
  ];
  it.each(cases)("refuses %s", async (_name, build, details, extra) => {
    await expectStatus(submit(build(), extra), status.INVALID_ARGUMENT, details);
  });

  it("logged none of them: the job list did not grow", async () => {
    expect((await listJobs()).length).toBe(jobsBefore);
  });
});

// ------------------------------------------------------------------ executor sessions

type Session = { received: ExecutorSessionResponse[]; error?: { code: number; details: string } };

/** Writes `messages` one by one (each after the previous answer or a short pause) and returns what came back. */
function session(messages: ExecutorSessionRequest[], settleMs = 1000): Promise<Session> {
  return new Promise((resolve) => {
    const stream = scheduler.executorSession();
    const result: Session = { received: [] };
    const finish = () => {
      clearTimeout(timer);
      stream.cancel();
      resolve(result);
    };
    stream.on("data", (m: ExecutorSessionResponse) => result.received.push(m));
    stream.on("error", (err: { code: number; details: string }) => {
      if (err.code !== status.CANCELLED) result.error = { code: err.code, details: err.details };
      finish();
    });
    const timer = setTimeout(finish, settleMs + messages.length * 300);
    messages.forEach((message, i) => setTimeout(() => stream.write(message), i * 300));
  });
}

const registration = (overrides: Partial<RegisterExecutor> = {}): RegisterExecutor => ({
  executorId: "hostile-exec",
  nodeId: "hostile-node",
  host: "127.0.0.1",
  slots: 1,
  shuffleAddress: "127.0.0.1:9",
  executorAddress: "",
  runningTaskIds: [],
  lastEpoch: 0,
  cachedPartitions: [],
  cachedOnDisk: [],
  cachedOnDiskListed: false,
  runningDrivers: [],
  queuedSlots: 0,
  ...overrides,
});
const register = (overrides: Partial<RegisterExecutor> = {}): ExecutorSessionRequest => ({ message: { $case: "register", value: registration(overrides) } });

describe("executor sessions refuse what they cannot hold, before attaching anything", () => {
  const refused: Array<[string, ExecutorSessionRequest[], number, RegExp]> = [
    ["an empty first message", [{ message: undefined }], status.INVALID_ARGUMENT, /empty session message/],
    ["a heartbeat before register", [{ message: { $case: "heartbeat", value: { runningTaskIds: [] } } }], status.INVALID_ARGUMENT, /first session message must be register/],
    ["an empty executor_id", [register({ executorId: "" })], status.INVALID_ARGUMENT, /executor_id is required/],
    ["an over-long node_id", [register({ nodeId: long(201) })], status.INVALID_ARGUMENT, /node_id is longer/],
    ["zero slots", [register({ slots: 0 })], status.INVALID_ARGUMENT, /slots must be an integer in \[1, 1024\]/],
    ["absurd slots", [register({ slots: 4_000_000_000 })], status.INVALID_ARGUMENT, /slots must be an integer in \[1, 1024\]/],
    ["a newline in the shuffle address", [register({ shuffleAddress: "127.0.0.1:7337\nINJECTED" })], status.INVALID_ARGUMENT, /shuffle_address .* is not host:port/],
    ["a shuffle address without a port", [register({ shuffleAddress: "localhost" })], status.INVALID_ARGUMENT, /not host:port/],
    ["a shuffle address with port 70000", [register({ shuffleAddress: "127.0.0.1:70000" })], status.INVALID_ARGUMENT, /not host:port/],
    ["a shuffle address with a path", [register({ shuffleAddress: "http://evil/x:1" })], status.INVALID_ARGUMENT, /not host:port/],
    ["an empty shuffle address", [register({ shuffleAddress: "" })], status.INVALID_ARGUMENT, /not host:port/],
    ["a control character in host", [register({ host: "h\u0007" })], status.INVALID_ARGUMENT, /host .* control character/],
    ["thousands of running task ids", [register({ runningTaskIds: Array.from({ length: 5000 }, (_, i) => `t${i}`) })], status.INVALID_ARGUMENT, /running tasks/],
    ["an empty running task id", [register({ runningTaskIds: [""] })], status.INVALID_ARGUMENT, /running_task_ids\[\] is required/],
    ["a cached partition of no application", [register({ cachedPartitions: [{ applicationId: "", cacheKey: "ds1", partition: 0, bytes: 1 }] })], status.INVALID_ARGUMENT, /cached_partitions\[\]\.application_id is required/],
    ["a disk copy of no dataset", [register({ cachedOnDiskListed: true, cachedOnDisk: [{ applicationId: "app", cacheKey: "", partition: 0, bytes: 1 }] })], status.INVALID_ARGUMENT, /cached_on_disk\[\]\.cache_key is required/],
    ["a cached partition beyond any dataset", [register({ cachedPartitions: [{ applicationId: "app", cacheKey: "ds1", partition: 4_000_000_000, bytes: 1 }] })], status.INVALID_ARGUMENT, /cached_partitions\[\]\.partition must be an integer/],
  ];
  it.each(refused)("refuses %s", async (_name, messages, code, details) => {
    const result = await session(messages);
    expect(result.error).toMatchObject({ code, details: expect.stringMatching(details) });
    expect(result.received).toEqual([]);
  });

  it("attached none of them", async () => {
    const executors = (await call(scheduler.listExecutors.bind(scheduler), {})).executors;
    expect(executors.map((e) => e.executorId).filter((id) => id.startsWith("hostile") || id === "")).toEqual([]);
  });

  it("refuses a second register on one stream with FAILED_PRECONDITION, after acknowledging the first", async () => {
    const result = await session([register({ executorId: "hostile-twice" }), register({ executorId: "hostile-twice-b" })]);
    expect(result.received.map((m) => m.message?.$case)).toEqual(["registerAck"]);
    expect(result.error).toMatchObject({ code: status.FAILED_PRECONDITION, details: expect.stringMatching(/already registered on this session/) });
    const executors = (await call(scheduler.listExecutors.bind(scheduler), {})).executors;
    expect(executors.find((e) => e.executorId === "hostile-twice-b")).toBeUndefined();
    expect(executors.find((e) => e.executorId === "hostile-twice")?.alive).toBe(false);
  });

  it("refuses an executor id that is live on another node with ALREADY_EXISTS, leaving the real one alone", async () => {
    const real = (await call(scheduler.listExecutors.bind(scheduler), {})).executors.find((e) => e.alive && !e.executorId.startsWith("hostile"))!;
    const result = await session([register({ executorId: real.executorId, nodeId: "impostor-node" })]);
    expect(result.error).toMatchObject({ code: status.ALREADY_EXISTS, details: expect.stringMatching(/is live on node/) });
    const after = (await call(scheduler.listExecutors.bind(scheduler), {})).executors.find((e) => e.executorId === real.executorId)!;
    expect(after).toMatchObject({ alive: true, nodeId: real.nodeId, shuffleAddress: real.shuffleAddress });
  });

  it("stays up when a session with a bad address disconnects (it used to crash the scheduler)", async () => {
    await session([register({ executorId: "hostile-nl", shuffleAddress: "127.0.0.1:1\n" })], 200);
    expect(await isServing(cluster.scheduler, 3000)).toBe(true);
  });
});

// ------------------------------------------------------------------ results and pages

describe("results are bounded and listings page", () => {
  it("fails a job whose whole collect result is over ballast.result.maxSize, with a clear reason", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "--json", "--conf", "ballast.result.maxSize=100", "test/fixtures/collect-count.ts", "--", "--mode", "collect"]);
    expect(res.code).toBe(1);
    expect(lastJson(res.stdout)).toMatchObject({ status: "failed", error: { message: expect.stringMatching(/collected result is \d+ bytes, over the 100-byte limit \(ballast\.result\.maxSize\)/) } });
  });

  it("pages ListJobs: every job once, in order, one per page", async () => {
    await expectClusterHealthy(cluster); // at least two jobs exist now
    const all = (await listJobs()).map((j) => j.jobId);
    expect(all.length).toBeGreaterThanOrEqual(2);
    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await call(scheduler.listJobs.bind(scheduler), { pageSize: 1, pageToken, applicationId: "" });
      expect(page.jobs).toHaveLength(1);
      paged.push(page.jobs[0]!.jobId);
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual(all);
  });
});

describe("at the end", () => {
  it("every service is SERVING and a small job still runs", async () => {
    await expectClusterHealthy(cluster);
  });
});
