/**
 * How this process authenticates: the secret its servers verify tokens with,
 * the token its clients send, and its TLS material. Set once at start-up (a
 * service from --secret-file/--tls-*, the CLI from --dir or the environment)
 * and read by startGrpcServer and createClient, so no call site passes
 * credentials around.
 */
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { AuthSetupError, describeIdentity, mayCall, METHOD_ACCESS, mintToken, readSecretFile, verifyToken, type Identity, type JobGrants } from "./auth.js";
import { stagingOutputPrefix } from "./jobOutput.js";
import type { Plan } from "./plan.js";

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** With a CA, servers require and verify client certificates (mutual TLS) and clients verify servers against it. */
  ca?: Buffer;
}

export interface ProcessSecurity {
  /** Verifies tokens on this process's servers. */
  secret?: Buffer;
  /** Servers accept every call as the cluster (--insecure-no-auth). */
  insecureNoAuth?: boolean;
  /** What this process's clients send as `authorization: Bearer`. */
  token?: string;
  /** Server certificate (and key) of this process; clients present it too when a CA is set. */
  tls?: TlsFiles;
  /** Clients only: verify servers against this CA (a CLI with no certificate of its own). */
  ca?: Buffer;
}

let current: ProcessSecurity = {};

export function configureSecurity(security: ProcessSecurity): void {
  current = { ...security };
}

export const processSecurity = (): Readonly<ProcessSecurity> => current;

const NO_SECRET =
  "no cluster secret: pass --secret-file FILE (or BALLAST_SECRET_FILE; `ballast up` writes DIR/secret), or --insecure-no-auth to serve every caller without authentication";

/**
 * The credentials a process's servers (gRPC and history's HTTP) verify callers with; none under
 * --insecure-no-auth. With neither a secret nor --insecure-no-auth, a server does not start.
 */
export function serverAuth(): { secret?: Buffer } {
  if (current.insecureNoAuth) return {};
  if (!current.secret) throw new AuthSetupError(NO_SECRET);
  return { secret: current.secret };
}

export function serverCredentials(): grpc.ServerCredentials {
  const tls = current.tls;
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], Boolean(tls.ca));
}

export function channelCredentials(): grpc.ChannelCredentials {
  const ca = current.tls?.ca ?? current.ca;
  if (!current.tls && !ca) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(ca ?? null, current.tls?.key ?? null, current.tls?.cert ?? null);
}

/** The client side: every call carries this process's token, unless the caller set its own (a job's). */
export const authInterceptor: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      if (current.token && metadata.get("authorization").length === 0) metadata.set("authorization", `Bearer ${current.token}`);
      next(metadata, listener);
    },
  });

/** Every call of a client carries `token` (placed before authInterceptor, which then leaves it be). */
export const tokenInterceptor =
  (token: string): grpc.Interceptor =>
  (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });

/** The staging token of one user's job, for its launches, granting just its own inputs and output; none when this process verifies no tokens. */
export function jobTokenFor(user: string | undefined, job: { jobId: string; bundleDigest: string; plan: Plan }): string | undefined {
  return user && current.secret ? mintToken(current.secret, { role: "job", user, jobId: job.jobId, grants: jobGrantsOf(job.plan, job.bundleDigest) }) : undefined;
}

/**
 * The token a detached application's supervised driver calls with: its submitter's user token
 * (what that user's own `ballast attach` would carry), never the cluster's; none for an
 * application the cluster registered, or when this process verifies no tokens.
 */
export function driverTokenFor(user: string): string | undefined {
  return user && current.secret ? mintToken(current.secret, { role: "user", user }) : undefined;
}

/** What a job reads (its bundle, its staging:// inputs: by pinned digest, else by name) and where its attempts name their parts. */
export function jobGrantsOf(plan: Plan, bundleDigest: string): JobGrants {
  const staged = plan.inputs.filter((input) => input.uri.startsWith(STAGING));
  const saves = plan.action === "saveAsTextFile" && plan.outputUri.startsWith(STAGING) && plan.outputUri.length > STAGING.length;
  return {
    read: [bundleDigest, ...staged.flatMap((input) => (input.sha256 ? [input.sha256] : []))],
    names: staged.flatMap((input) => (input.sha256 ? [] : [input.uri.slice(STAGING.length)])),
    write: saves ? stagingOutputPrefix(plan.outputUri) : "",
  };
}

const STAGING = "staging://";

const callers = new WeakMap<object, Identity>();

/** Who made a call the guard admitted (the cluster when auth is off). */
export function callerOf(call: object): Identity {
  return callers.get(call) ?? { role: "cluster" };
}

type Check = { identity: Identity } | { error: Partial<grpc.StatusObject> };

function authenticate(metadata: grpc.Metadata, path: string, secret: Buffer | undefined): Check {
  if (!secret) return { identity: { role: "cluster" } };
  const header = metadata.get("authorization")[0];
  const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
  if (!token) {
    return { error: { code: grpc.status.UNAUTHENTICATED, details: "no credentials: send authorization: Bearer <token> (the ballast CLI finds one through --dir, BALLAST_SECRET_FILE or BALLAST_TOKEN)" } };
  }
  const identity = verifyToken(secret, token);
  if (!identity) return { error: { code: grpc.status.UNAUTHENTICATED, details: "invalid token: it was not issued under this cluster's secret" } };
  const access = METHOD_ACCESS[path]!;
  if (!mayCall(identity, access)) {
    return { error: { code: grpc.status.PERMISSION_DENIED, details: `${describeIdentity(identity)} may not call ${path} (it needs ${access === "cluster" ? "the cluster's credentials" : "a user token"})` } };
  }
  return { identity };
}

/** A service implementation whose every method first authenticates and authorizes its caller (METHOD_ACCESS). */
export function guardService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
  const { secret } = serverAuth();
  const guarded: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const path = method.path.replace(/^\//, "");
    if (!METHOD_ACCESS[path]) throw new Error(`${path} has no entry in METHOD_ACCESS (packages/common/src/auth.ts): say who may call it`);
    const handler = implementation[name] as (call: any, callback?: any) => void;
    if (!handler) continue;
    guarded[name] = (call: any, callback?: any) => {
      const check = authenticate(call.metadata, path, secret);
      if ("error" in check) return refuse(call, callback, check.error);
      callers.set(call, check.identity);
      return handler(call, callback);
    };
  }
  return guarded;
}

/** Ends a refused call with its status: through the callback for unary and client-streaming calls, as an error for streams out. */
function refuse(call: any, callback: grpc.sendUnaryData<unknown> | undefined, error: Partial<grpc.StatusObject>): void {
  const serviceError = Object.assign(new Error(error.details), error);
  if (callback) callback(serviceError as grpc.ServiceError);
  else call.emit("error", serviceError);
}

export interface SecurityFlags {
  secretFile?: string;
  insecureNoAuth: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

const VALUE_FLAGS = { "--secret-file": "secretFile", "--tls-cert": "tlsCert", "--tls-key": "tlsKey", "--tls-ca": "tlsCa" } as const;

/** Help text for the flags takeSecurityFlags reads, for each service's usage. */
export const SECURITY_USAGE = `  --secret-file FILE  cluster secret (env BALLAST_SECRET_FILE); without one the service refuses to start
  --insecure-no-auth  serve every caller without authentication (env BALLAST_INSECURE_NO_AUTH=1)
  --tls-cert/--tls-key/--tls-ca FILE  TLS (env BALLAST_TLS_CERT/KEY/CA); with a CA, mutual TLS`;

/**
 * Takes the security flags out of a service's argv (each service's own parser
 * then sees only its flags), with BALLAST_SECRET_FILE, BALLAST_INSECURE_NO_AUTH
 * and BALLAST_TLS_CERT/KEY/CA as defaults.
 */
export function takeSecurityFlags(argv: string[], env: NodeJS.ProcessEnv): { argv: string[]; flags: SecurityFlags } {
  const flags: SecurityFlags = {
    secretFile: env.BALLAST_SECRET_FILE || undefined,
    insecureNoAuth: env.BALLAST_INSECURE_NO_AUTH === "1" || env.BALLAST_INSECURE_NO_AUTH === "true",
    tlsCert: env.BALLAST_TLS_CERT || undefined,
    tlsKey: env.BALLAST_TLS_KEY || undefined,
    tlsCa: env.BALLAST_TLS_CA || undefined,
  };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (flag === "--insecure-no-auth") flags.insecureNoAuth = true;
    else if (flag in VALUE_FLAGS) {
      const value = inline ?? argv[++i];
      if (!value || value.startsWith("--")) throw new AuthSetupError(`${flag} needs a file path`);
      flags[VALUE_FLAGS[flag as keyof typeof VALUE_FLAGS]] = value;
    } else rest.push(argv[i]!);
  }
  return { argv: rest, flags };
}

/** A service's security from its flags: verify with the secret, call peers with the cluster token, TLS if given. */
export function configureServiceSecurity(flags: SecurityFlags): void {
  const secret = flags.secretFile ? readSecretFile(flags.secretFile) : undefined;
  if (!secret && !flags.insecureNoAuth) throw new AuthSetupError(NO_SECRET);
  configureSecurity({
    secret,
    insecureNoAuth: flags.insecureNoAuth && !secret,
    token: secret ? mintToken(secret, { role: "cluster" }) : undefined,
    tls: tlsFromFlags(flags),
  });
}

function tlsFromFlags(flags: SecurityFlags): TlsFiles | undefined {
  if (!flags.tlsCert && !flags.tlsKey) {
    if (flags.tlsCa) throw new AuthSetupError("--tls-ca needs --tls-cert and --tls-key too");
    return undefined;
  }
  if (!flags.tlsCert || !flags.tlsKey) throw new AuthSetupError("--tls-cert and --tls-key go together");
  return { cert: readPem(flags.tlsCert), key: readPem(flags.tlsKey), ca: flags.tlsCa ? readPem(flags.tlsCa) : undefined };
}

export function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AuthSetupError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * A service's entry: strips and applies the security flags, or prints the
 * problem on one line and exits 2. Returns the rest of argv for the service's parser.
 */
export function serviceSecurityOrExit(service: string, argv: string[]): string[] {
  try {
    const taken = takeSecurityFlags(argv, process.env);
    // --help answers without credentials.
    if (!taken.argv.some((arg) => arg === "--help" || arg === "-h")) configureServiceSecurity(taken.flags);
    return taken.argv;
  } catch (err) {
    if (!(err instanceof AuthSetupError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}
