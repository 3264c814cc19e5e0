import { LOGIN_TICKET_TTL_MS, mintTimedToken } from "@ballast/common/auth";
import { processSecurity } from "@ballast/common/security";
import { historyUrlOf, readCluster } from "./cluster.js";
import { ExitError } from "./exit.js";

/**
 * The page of a job in the history UI, openable by whoever runs this command: with a token, the
 * link goes through /login with a ticket that expires in LOGIN_TICKET_TTL_MS (the token itself
 * never appears), and history swaps it for a session cookie.
 */
export function jobLink(historyUrl: string, jobId: string, nowMs = Date.now()): string {
  const token = processSecurity().token;
  const job = encodeURIComponent(jobId);
  if (!token) return `${historyUrl}/#/job/${job}`;
  return `${historyUrl}/login?job=${job}&ticket=${mintTimedToken(token, "login", nowMs + LOGIN_TICKET_TTL_MS)}`;
}

/** `ballast history-link JOB`: a fresh login link to the job's page (--history URL, or the local cluster's). */
export function printHistoryLink(jobId: string, opts: { dir: string; history?: string }): void {
  let historyUrl = opts.history?.replace(/\/+$/, "");
  if (!historyUrl) {
    try {
      historyUrl = historyUrlOf(readCluster(opts.dir));
    } catch (err) {
      throw new ExitError(`${(err as Error).message} (or pass --history http://HOST:PORT)`, 2);
    }
  }
  if (!/^https?:\/\/[^/]+$/.test(historyUrl)) throw new ExitError(`--history must be http(s)://HOST:PORT, got "${opts.history}"`, 2);
  process.stdout.write(`${jobLink(historyUrl, jobId)}\n`);
}
