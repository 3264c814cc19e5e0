/**
 * Who may read history over HTTP. The JSON API answers a caller who proves an
 * identity, with `Authorization: Bearer <token>` (curl, scripts) or with the
 * session cookie a browser gets by opening a login link (`ballast history-link
 * JOB`, or the link `ballast submit` prints). The link's ticket lives minutes
 * and is exchanged at /login, once, for an HttpOnly, SameSite=Strict cookie
 * (Secure over HTTPS), and the redirect strips it from the address bar.
 *
 * What an identity may read: the cluster and any user read every application,
 * the rule history's gRPC queries follow (history is not told who submitted a
 * job, so it cannot narrow a user to their own); a job's token (a task's)
 * reads nothing.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { HistoryStore } from "../store/store.js";
import { describeIdentity, LOGIN_TICKET_TTL_MS, mintTimedToken, mintToken, verifyTimedToken, verifyToken, type Identity } from "@ballast/common/auth";

export const SESSION_COOKIE = "ballast_session";
/** A browser session lasts a working day; then a new login link is needed. */
export const SESSION_TTL_MS = 8 * 3_600_000;

export type HttpCheck = { identity: Identity } | { status: 401 | 403; error: string };

const HOW_TO_LOG_IN = "send Authorization: Bearer <token> (`ballast token`), or open a login link from `ballast history-link JOB`";

/** The caller of a request, or why it is refused; every caller is the cluster when the service runs without a secret. */
export function authenticateRequest(headers: IncomingHttpHeaders, secret: Buffer | undefined, nowMs: number): HttpCheck {
  if (!secret) return { identity: { role: "cluster" } };
  let identity: Identity | undefined;
  if (headers.authorization !== undefined) {
    const bearer = /^Bearer +(\S+)\s*$/.exec(headers.authorization)?.[1];
    identity = bearer ? verifyToken(secret, bearer) : undefined;
    if (!identity) return { status: 401, error: `invalid credentials: the bearer token was not issued under this cluster's secret; ${HOW_TO_LOG_IN}` };
  } else {
    const session = cookieValue(headers.cookie, SESSION_COOKIE);
    identity = session ? verifyTimedToken(secret, session, "session", nowMs, SESSION_TTL_MS) : undefined;
    if (!identity) return { status: 401, error: `${session ? "the session has expired" : "no credentials"}: ${HOW_TO_LOG_IN}` };
  }
  if (identity.role === "job") return { status: 403, error: `${describeIdentity(identity)} may not read history (it needs a user token)` };
  return { identity };
}

/**
 * Live used tickets history keeps at most. Only verified tickets are recorded, so filling the
 * table takes valid credentials; full, it refuses logins (bearer tokens still work) until some expire.
 */
const USED_TICKETS_CAPACITY = 100_000;

export type LoginResult = { location: string; setCookie: string } | { status: 401 | 503; error: string };

/**
 * /login?ticket=T[&job=ID]: a valid ticket, on its first use, becomes a session cookie and a
 * redirect to the job's page (or the start page). Only a job id is taken, never a URL, so the
 * redirect stays on this site.
 */
export async function login(query: URLSearchParams, secret: Buffer | undefined, nowMs: number, https: boolean, used: Pick<HistoryStore, "claimTicket">): Promise<LoginResult> {
  const job = query.get("job");
  const location = job ? `/#/job/${encodeURIComponent(job)}` : "/";
  if (!secret) return { location, setCookie: clearSessionCookie(https) };
  const ticket = query.get("ticket") ?? "";
  const identity = verifyTimedToken(secret, ticket, "login", nowMs, LOGIN_TICKET_TTL_MS);
  if (!identity || identity.role === "job") {
    return { status: 401, error: "this login link is invalid or has expired: run `ballast history-link JOB` for a new one" };
  }
  // Verified above: six parts, the expiry fifth, the MAC (unique to the ticket) last.
  const [, , , , expiry, mac] = ticket.split(".") as [string, string, string, string, string, string];
  const claim = await used.claimTicket(mac, Number(expiry), nowMs, USED_TICKETS_CAPACITY);
  if (claim === "used before") {
    return { status: 401, error: "this login link was already used (a link logs in once): run `ballast history-link JOB` for a new one" };
  }
  if (claim === "full") return { status: 503, error: "too many logins in the last minutes: try again in a few minutes, or send Authorization: Bearer <token>" };
  const session = mintTimedToken(mintToken(secret, identity), "session", nowMs + SESSION_TTL_MS);
  return { location, setCookie: sessionCookie(session, SESSION_TTL_MS / 1000, https) };
}

/** Ends the browser's session (/logout). */
export const clearSessionCookie = (https: boolean): string => sessionCookie("", 0, https);

function sessionCookie(value: string, maxAgeSeconds: number, https: boolean): string {
  return [`${SESSION_COOKIE}=${value}`, "Path=/", `Max-Age=${maxAgeSeconds}`, "HttpOnly", "SameSite=Strict", ...(https ? ["Secure"] : [])].join("; ");
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? "").split(";")) {
    const [key, ...value] = pair.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
