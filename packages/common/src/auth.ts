/**
 * Who may call what. Every gRPC call of every Ballast service carries
 * `authorization: Bearer <token>`; the token is an HMAC of its role and subject
 * under the cluster secret (32 random bytes `ballast up` writes to DIR/secret),
 * so any holder of the secret can mint and verify tokens and there is no token
 * database to keep in step.
 *
 *   cluster           the services themselves (and operators holding the secret): every call
 *   user:<name>       submit, watch, cancel and list jobs; its own staging space
 *   job:<user>/<job>  given to a job's tasks at launch: that job's own staging inputs and output temporaries (JobGrants)
 *
 * METHOD_ACCESS says which calls each role may make; startGrpcServer refuses to
 * serve a method that has no entry, and auth.test.ts checks every method in gen/
 * has one, so a new RPC cannot be left open by accident. Health and reflection
 * are served outside this check: probes and grpcurl work without a token.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { LIMITS } from "./limits.js";

export type Role = "cluster" | "user" | "job";

export type Identity = { role: "cluster" } | { role: "user"; user: string } | { role: "job"; user: string; jobId: string; grants: JobGrants };

/**
 * What a job's token may do in its owner's staging space, signed into the token so staging
 * needs no table of jobs: read the blobs of these digests (its bundle, its pinned inputs) and
 * these names (inputs not pinned), and name its parts under `<write>/_temporary/` ("" : none).
 */
export interface JobGrants {
  read: string[];
  names: string[];
  write: string;
}

/** Digests and names one job token carries at most (it rides in every call's header): a plan's inputs and its bundle. */
export const MAX_GRANTS = LIMITS.inputs + 1;

/**
 * What a method needs. "cluster": internal calls only; "user": users (and the
 * cluster); "staging": users, job tokens and the cluster, each confined by the
 * staging service to its own namespace.
 */
export type Access = "cluster" | "user" | "staging";

const ALLOWED: Record<Access, readonly Role[]> = {
  cluster: ["cluster"],
  user: ["cluster", "user"],
  staging: ["cluster", "user", "job"],
};

/** Every method of every Ballast service, by full gRPC path without the leading slash. */
export const METHOD_ACCESS: Readonly<Record<string, Access>> = {
  // Jobs: what a user does with its own work.
  "ballast.v1.SchedulerService/SubmitJob": "user",
  "ballast.v1.SchedulerService/GetJob": "user",
  "ballast.v1.SchedulerService/WatchJob": "user",
  "ballast.v1.SchedulerService/CancelJob": "user",
  "ballast.v1.SchedulerService/ListJobs": "user",
  "ballast.v1.SchedulerService/UnpersistDataset": "user",
  // Applications: a driver program records itself, and `ballast attach` reads it back.
  "ballast.v1.SchedulerService/RegisterApplication": "user",
  "ballast.v1.SchedulerService/GetApplicationRecord": "user",
  "ballast.v1.SchedulerService/FinishApplication": "user",
  "ballast.v1.SchedulerService/GetLeader": "user",
  // Read-only views of the cluster, shown by `ballast executors` / `ballast nodes`.
  "ballast.v1.SchedulerService/ListExecutors": "user",
  "ballast.v1.SchedulerService/ListNodes": "user",
  // Internal: a fake executor could take tasks (and their data) or commit forged output.
  "ballast.v1.SchedulerService/ExecutorSession": "cluster",
  "ballast.v1.SchedulerService/AuthorizeCommit": "cluster",
  // Operator actions on nodes.
  "ballast.v1.SchedulerService/DecommissionNode": "cluster",
  "ballast.v1.SchedulerService/RecommissionNode": "cluster",
  "ballast.v1.ExecutorService/GetExecutorStatus": "user",
  // Shuffle data moves only between services; epoch fences ride on these calls.
  "ballast.v1.ShuffleService/WriteMapOutput": "cluster",
  "ballast.v1.ShuffleService/FetchBlocks": "cluster",
  "ballast.v1.ShuffleService/ListMapOutputs": "cluster",
  "ballast.v1.ShuffleService/RemoveShuffle": "cluster",
  "ballast.v1.ShuffleService/MigrateMapOutputs": "cluster",
  "ballast.v1.ShuffleService/DescribeLocalStore": "cluster",
  "ballast.v1.ShuffleService/AdoptMapOutput": "cluster",
  "ballast.v1.ShuffleService/LocateBlocks": "cluster",
  "ballast.v1.StagingService/Upload": "staging",
  "ballast.v1.StagingService/GetUploadStatus": "staging",
  "ballast.v1.StagingService/Download": "staging",
  "ballast.v1.StagingService/Stat": "staging",
  "ballast.v1.StagingService/List": "staging",
  "ballast.v1.StagingService/Delete": "staging",
  "ballast.v1.StagingService/Link": "staging",
  // Job output commit: only the scheduler promotes an output (a user could fake a job's _SUCCESS).
  "ballast.v1.StagingService/Promote": "cluster",
  // Only the scheduler publishes events; forged history would mislead operators.
  "ballast.v1.HistoryService/PublishEvents": "cluster",
  "ballast.v1.HistoryService/ListApplications": "user",
  "ballast.v1.HistoryService/GetApplication": "user",
  "ballast.v1.HistoryService/ListJobSummaries": "user",
  "ballast.v1.HistoryService/GetJobSummary": "user",
  "ballast.v1.HistoryService/ListStages": "user",
  "ballast.v1.HistoryService/ListTasks": "user",
  "ballast.v1.HistoryService/ListExecutorHistory": "user",
  "ballast.v1.HistoryService/ListEvents": "user",
};

export const SECRET_BYTES = 32;
const TOKEN_VERSION = "bt1";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** A 32-byte random cluster secret, hex, in a file only its owner can read. Keeps an existing one. */
export function ensureSecretFile(path: string): void {
  if (existsSync(path)) return;
  writeFileSync(path, `${randomBytes(SECRET_BYTES).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
}

/** Reads a secret file; a missing, short or malformed one is a clear error. */
export function readSecretFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new AuthSetupError(`cannot read the cluster secret ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!/^[0-9a-f]+$/i.test(text) || text.length < SECRET_BYTES * 2) {
    throw new AuthSetupError(`${path} is not a Ballast cluster secret (${SECRET_BYTES * 2} or more hex digits)`);
  }
  return Buffer.from(text, "hex");
}

/** A mistake in how a process was given its credentials (missing secret, bad token): one-line error. */
export class AuthSetupError extends Error {}

/** A job's subject is `user/job`, then a newline and its grants as JSON. */
function subjectOf(identity: Identity): string {
  if (identity.role === "cluster") return "cluster";
  return identity.role === "user" ? identity.user : `${identity.user}/${identity.jobId}\n${JSON.stringify(identity.grants)}`;
}

function mac(secret: Buffer, role: Role, subject: string): string {
  return createHmac("sha256", secret).update(`ballast-token\n${TOKEN_VERSION}\n${role}\n${subject}`).digest("base64url");
}

/** Checks a user name (or a job id) is one a token may carry. */
export function checkName(kind: string, name: string): string {
  if (!NAME.test(name)) throw new AuthSetupError(`${kind} ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_', '@' or '-'`);
  return name;
}

/** The token of an identity under a secret: `bt1.<role>.<subject, base64url>.<hmac>`. */
export function mintToken(secret: Buffer, identity: Identity): string {
  if (identity.role !== "cluster") checkName("user name", identity.user);
  if (identity.role === "job") {
    checkName("job id", identity.jobId);
    if (identity.grants.read.length + identity.grants.names.length > MAX_GRANTS) throw new AuthSetupError(`a job token grants at most ${MAX_GRANTS} digests and names`);
  }
  const subject = subjectOf(identity);
  return [TOKEN_VERSION, identity.role, Buffer.from(subject).toString("base64url"), mac(secret, identity.role, subject)].join(".");
}

/** The identity a token proves under `secret`, or undefined when it is forged, malformed or from another cluster. */
export function verifyToken(secret: Buffer, token: string): Identity | undefined {
  const parts = token.split(".");
  if (parts.length !== 4 || parts[0] !== TOKEN_VERSION) return undefined;
  const [, role, encodedSubject, given] = parts as [string, string, string, string];
  if (role !== "cluster" && role !== "user" && role !== "job") return undefined;
  const subject = Buffer.from(encodedSubject, "base64url").toString();
  return sameMac(given, mac(secret, role, subject)) ? identityOf(role, subject) : undefined;
}

/** Constant-time comparison of a presented MAC with the expected one. */
function sameMac(given: string, expected: string): boolean {
  const actual = Buffer.from(given);
  const wanted = Buffer.from(expected);
  return actual.length === wanted.length && timingSafeEqual(actual, wanted);
}

function identityOf(role: Role, subject: string): Identity | undefined {
  if (role === "cluster") return subject === "cluster" ? { role } : undefined;
  if (role === "user") return NAME.test(subject) ? { role, user: subject } : undefined;
  const newline = subject.indexOf("\n");
  const [user, jobId, ...rest] = subject.slice(0, newline < 0 ? undefined : newline).split("/");
  const grants = newline < 0 ? undefined : grantsOf(subject.slice(newline + 1));
  return user && jobId && grants && rest.length === 0 && NAME.test(user) && NAME.test(jobId) ? { role, user, jobId, grants } : undefined;
}

/** A token's grants, or undefined when they are not the shape mintToken writes (a token of an older version). */
function grantsOf(json: string): JobGrants | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const { read, names, write } = (value ?? {}) as Partial<JobGrants>;
  const strings = (list: unknown): list is string[] => Array.isArray(list) && list.length <= MAX_GRANTS && list.every((item) => typeof item === "string");
  return strings(read) && strings(names) && typeof write === "string" ? { read, names, write } : undefined;
}

/** Where a user's staging space lives in the store: staging://NAME of user U is the name `users/U/NAME`. */
export const USERS_ROOT = "users/";
export const userSpacePrefix = (user: string): string => `${USERS_ROOT}${user}/`;

/** The role an identity has, and whether it may make a call needing `access`. */
export const mayCall = (identity: Identity, access: Access): boolean => ALLOWED[access].includes(identity.role);

/** For logs and errors: `cluster`, `user alice`, `job alice/job-0001`. */
export const describeIdentity = (identity: Identity): string =>
  identity.role === "cluster" ? "cluster" : identity.role === "user" ? `user ${identity.user}` : `job ${identity.user}/${identity.jobId}`;

/**
 * What a timed credential is for. A "login" ticket rides in a link (`ballast history-link`)
 * and lives minutes; a "session" is the history UI's HttpOnly cookie and lives hours.
 * The purpose is under the MAC, so neither passes for the other.
 */
export type TimedPurpose = "login" | "session";

const TIMED_VERSION = "bt1t";

/** How long a login link stays good: long enough to click, short enough that one found in a scrollback is stale. */
export const LOGIN_TICKET_TTL_MS = 15 * 60_000;

/**
 * A credential proving the identity of `token` until `expiresAtMs`: `bt1t.<purpose>.<role>.<subject>.<expiry>.<mac>`.
 * Its MAC is keyed by the token itself, not the secret, so the holder of a user token (who
 * has no secret) can mint login tickets for itself, and the server, which can re-mint any
 * token from the secret, can check them. A leaked ticket expires; the token never leaves.
 */
export function mintTimedToken(token: string, purpose: TimedPurpose, expiresAtMs: number): string {
  const parts = token.split(".");
  if (parts.length !== 4 || parts[0] !== TOKEN_VERSION) throw new AuthSetupError("not a Ballast token (bt1.<role>.<subject>.<mac>)");
  const [, role, subject] = parts as [string, string, string, string];
  const expiry = String(Math.floor(expiresAtMs));
  return [TIMED_VERSION, purpose, role, subject, expiry, timedMac(token, purpose, expiry)].join(".");
}

/** The identity a timed credential proves at `nowMs`, or undefined when forged, expired, of another purpose, or lasting past `maxTtlMs`. */
export function verifyTimedToken(secret: Buffer, credential: string, purpose: TimedPurpose, nowMs: number, maxTtlMs: number): Identity | undefined {
  const parts = credential.split(".");
  if (parts.length !== 6 || parts[0] !== TIMED_VERSION || parts[1] !== purpose) return undefined;
  const [, , role, encodedSubject, expiry, given] = parts as [string, string, string, string, string, string];
  const expiresAt = /^\d{1,15}$/.test(expiry) ? Number(expiry) : NaN;
  if (!(expiresAt > nowMs && expiresAt <= nowMs + maxTtlMs)) return undefined;
  if (role !== "cluster" && role !== "user" && role !== "job") return undefined;
  const identity = identityOf(role, Buffer.from(encodedSubject, "base64url").toString());
  if (!identity) return undefined;
  return sameMac(given, timedMac(mintToken(secret, identity), purpose, expiry)) ? identity : undefined;
}

function timedMac(token: string, purpose: TimedPurpose, expiry: string): string {
  return createHmac("sha256", token).update(`ballast-timed\n${TIMED_VERSION}\n${purpose}\n${expiry}`).digest("base64url");
}
