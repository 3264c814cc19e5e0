/**
 * The HTTP face's defences: a Host allow-list (a page on another site that
 * rebinds its DNS name to this address must not read the API through the
 * visitor's browser), and headers that stop content sniffing, framing and
 * any script or style but the page's own.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { isIP } from "node:net";

/** Hosts a browser may name besides IP literals: the local names, and those the operator adds (--allowed-hosts). */
export function allowedHostNames(extra: string[] = []): Set<string> {
  return new Set(["localhost", hostname().toLowerCase(), ...extra.map((h) => h.trim().toLowerCase()).filter(Boolean)]);
}

/**
 * A Host header is accepted when its name is an IP literal (DNS rebinding
 * needs a DNS name) or an allowed name; a port is ignored. No Host at all is
 * an HTTP/1.0 client, not a browser, and passes.
 */
export function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (host === undefined) return true;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(host.trim());
  if (!match) return false;
  if (match[1]) return isIP(match[1]) === 6;
  const name = match[2]!.toLowerCase().replace(/\.$/, "");
  return isIP(name) === 4 || allowed.has(name);
}

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Only the page's own inline script and style run; the API is fetched from this origin; nothing may frame it. */
export function contentSecurityPolicy(page: string): string {
  const inline = (tag: string) => [...page.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => sha256(m[1]!)).join(" ");
  return [
    "default-src 'none'",
    `script-src ${inline("script")}`,
    `style-src ${inline("style")}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Sent with every response. */
export const COMMON_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
} as const;
