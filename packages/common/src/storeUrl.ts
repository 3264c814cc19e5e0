import { UsageError } from "./flags.js";

/**
 * How a --store URL (or BALLAST_STORE) names a backend, for every service
 * that has one. Kept apart from postgres.ts so that recognizing the URL does
 * not load the pg driver: services on the SQLite default never need it.
 */
export const isPostgresUrl = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//.test(url);

/** The --store value as given, or a UsageError when it names no backend we have. */
export function checkStoreUrl(url: string | undefined): string | undefined {
  if (url && !isPostgresUrl(url)) throw new UsageError(`--store must be a postgresql://USER[:PASS]@HOST:PORT/DB URL, got ${url}`);
  return url || undefined;
}

/** The URL with its password replaced, for logs. */
export function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}
