import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { processSecurity, serverAuth } from "@ballast/common/security";
import type { AddressInfo } from "node:net";
import type { Logger } from "@ballast/common/logging";
import type { History } from "../history.js";
import { traceUrlTemplate } from "@ballast/common/traceLink";
import { historyPage } from "./page.js";
import { authenticateRequest, clearSessionCookie, login } from "./access.js";
import { handleApi } from "./routes.js";
import { allowedHostNames, COMMON_HEADERS, contentSecurityPolicy, hostAllowed } from "./security.js";

export interface RunningHttpServer {
  /** http://host:port, or https:// when the service has a TLS certificate */
  url: string;
  port: number;
  /** Stops accepting connections, lets running requests finish for up to graceMs, then cuts them. */
  stop(graceMs?: number): Promise<void>;
}

const API_PREFIX = "/api/v1";

/** Serves the JSON API under /api/v1 and the web UI at / on `address` (host:port; port 0 picks one). */
export async function startHttpServer(address: string, history: History, logger?: Logger, traceUrl?: string, allowedHosts: string[] = []): Promise<RunningHttpServer> {
  const page = historyPage(traceUrlTemplate(traceUrl));
  // The gRPC server's certificate serves HTTPS too; browsers bring no client certificate, so none is asked.
  const tls = processSecurity().tls;
  const site: Site = { page, csp: contentSecurityPolicy(page), hosts: allowedHostNames(allowedHosts), secret: serverAuth().secret, https: Boolean(tls) };
  const handler: RequestListener = (request, response) => {
    serve(history, site, request, response).catch((err) => {
      // The path only: a query may hold a login ticket, which never goes to a log.
      logger?.error({ err, path: request.url?.split("?")[0] }, "HTTP request failed");
      sendJson(response, 500, { error: `internal error: ${(err as Error)?.message ?? String(err)}` });
    });
  };
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${bound}`;
  logger?.info({ url }, "HTTP server listening");
  const stop = (graceMs = 5000) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
  return { url, port: bound, stop };
}

/** What every request is served with. */
interface Site {
  page: string;
  csp: string;
  hosts: ReadonlySet<string>;
  /** Verifies callers; none under --insecure-no-auth. */
  secret?: Buffer;
  /** Served over TLS: the session cookie is Secure. */
  https: boolean;
}

async function serve(history: History, site: Site, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (!hostAllowed(request.headers.host, site.hosts)) {
    return sendJson(response, 403, { error: `host ${JSON.stringify(request.headers.host)} is not allowed (history --allowed-hosts adds names)` });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("Allow", "GET, HEAD");
    return sendJson(response, 405, { error: `method ${request.method} not allowed` });
  }
  const url = new URL(request.url ?? "/", "http://history.invalid");
  if (url.pathname === "/healthz") return sendJson(response, 200, { status: "serving" });
  // The page holds no data, only the code that fetches it from the API, so it loads for anyone
  // and tells a visitor without a session how to get one.
  if (url.pathname === "/" || url.pathname === "/index.html") {
    response.setHeader("Content-Security-Policy", site.csp);
    return send(response, 200, "text/html; charset=utf-8", site.page);
  }
  if (url.pathname === "/login") return serveLogin(history, site, url.searchParams, response);
  if (url.pathname === "/logout") return redirect(response, "/", clearSessionCookie(site.https));
  if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
    const check = authenticateRequest(request.headers, site.secret, Date.now());
    if ("error" in check) {
      if (check.status === 401) response.setHeader("WWW-Authenticate", 'Bearer realm="ballast history"');
      return sendJson(response, check.status, { error: check.error });
    }
    const result = await handleApi(history, url.pathname.slice(API_PREFIX.length), url.searchParams);
    return sendJson(response, result.status, result.body);
  }
  sendJson(response, 404, { error: `not found: ${url.pathname}` });
}

/** Used tickets are recorded in history's store, so each logs in once even across restarts. */
async function serveLogin(history: History, site: Site, query: URLSearchParams, response: ServerResponse): Promise<void> {
  const result = await login(query, site.secret, Date.now(), site.https, history.store);
  // A browser opened the link: it gets a page, not JSON.
  if ("error" in result) return send(response, result.status, "text/html; charset=utf-8", loginRefusedPage(result.error));
  redirect(response, result.location, result.setCookie);
}

function loginRefusedPage(reason: string): string {
  const escaped = reason.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ballast history: login refused</title></head><body><h1>Login refused</h1><p>${escaped}</p></body></html>\n`;
}

/** 303 to a path on this site, setting a cookie on the way. */
function redirect(response: ServerResponse, location: string, setCookie: string): void {
  response.setHeader("Set-Cookie", setCookie);
  response.setHeader("Location", location);
  send(response, 303, "text/plain; charset=utf-8", `see ${location}`);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, "application/json; charset=utf-8", JSON.stringify(body));
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  if (response.headersSent) return void response.end();
  response.writeHead(status, { ...COMMON_HEADERS, "Content-Type": contentType, "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(body) });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

/** "127.0.0.1:18080" or "[::1]:18080" -> host and port. */
export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid address "${address}" (expected HOST:PORT)`);
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}
