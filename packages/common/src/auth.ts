/**
 * Who may call what. Every gRPC call of every Ballast service carries
 * `authorization: Bearer <token>`; the token is an HMAC of its role and subject
 * under the cluster secret (32 random bytes `ballast up` writes to DIR/secret),
 * so any holder of the secret can mint and verify tokens and there is no token
 * database to keep in step.
 *
 *   cluster           the services themselves (and operators holding the secret): every call
 *   user:<name>       submit, watch, cancel and list jobs; its own staging space
 *   job:<user>/<job>  given to a job's tasks at launch: that job's staging inputs and outputs
 *
 * METHOD_ACCESS says which calls each role may make; startGrpcServer refuses to
 * serve a method that has no entry, and auth.test.ts checks every method in gen/
 * has one, so a new RPC cannot be left open by accident. Health and reflection
 * are served outside this check: probes and grpcurl work without a token.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";

export type Role = "cluster" | "user" | "job";

export type Identity = { role: "cluster" } | { role: "user"; user: string } | { role: "job"; user: string; jobId: string };

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
  "ballast.v1.StagingService/Upload": "staging",
  "ballast.v1.StagingService/GetUploadStatus": "staging",
  "ballast.v1.StagingService/Download": "staging",
  "ballast.v1.StagingService/Stat": "staging",
  "ballast.v1.StagingService/List": "staging",
  "ballast.v1.StagingService/Delete": "staging",
  "ballast.v1.StagingService/Link": "staging",
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

function subjectOf(identity: Identity): string {
  if (identity.role === "cluster") return "cluster";
  return identity.role === "user" ? identity.user : `${identity.user}/${identity.jobId}`;
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
  if (identity.role === "job") checkName("job id", identity.jobId);
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
  const [user, jobId, ...rest] = subject.split("/");
  return user && jobId && rest.length === 0 && NAME.test(user) && NAME.test(jobId) ? { role, user, jobId } : undefined;
}

/** The role an identity has, and whether it may make a call needing `access`. */
export const mayCall = (identity: Identity, access: Access): boolean => ALLOWED[access].includes(identity.role);

/** For logs and errors: `cluster`, `user alice`, `job alice/job-0001`. */
export const describeIdentity = (identity: Identity): string => (identity.role === "cluster" ? "cluster" : `${identity.role} ${subjectOf(identity)}`);

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
