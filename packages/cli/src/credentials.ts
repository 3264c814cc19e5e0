import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { AuthSetupError, checkName, mintToken, readSecretFile } from "@ballast/common/auth";
import { configureSecurity } from "@ballast/common/security";
import { ExitError } from "./exit.js";
import { tlsOfDir } from "./tls.js";

/** The secret file of a local cluster directory (`ballast up` writes it). */
export const secretFileOf = (dir: string) => join(resolve(dir), "secret");

/** Who the CLI acts as: BALLAST_USER, else the login name. */
export function cliUser(env: NodeJS.ProcessEnv = process.env): string {
  return checkName("user name (BALLAST_USER)", env.BALLAST_USER || userInfo().username);
}

/**
 * Sets the token every call of this command carries: BALLAST_TOKEN as given,
 * else one minted from BALLAST_SECRET_FILE or DIR/secret — a user token, or the
 * cluster's for operator commands (decommission, recommission). With none of
 * them the calls go without, and the cluster answers UNAUTHENTICATED.
 */
export function useCliCredentials(dir: string, { operator = false } = {}, env: NodeJS.ProcessEnv = process.env): void {
  try {
    configureSecurity({ token: cliToken(dir, operator, env), ...tlsOfDir(dir, env) });
  } catch (err) {
    if (err instanceof AuthSetupError) throw new ExitError(err.message, 2);
    throw err;
  }
}

/** `ballast token`: a token minted from the cluster secret, for another user or program (BALLAST_TOKEN). */
export function printToken(opts: { dir: string; user?: string; cluster?: boolean }, env: NodeJS.ProcessEnv = process.env): void {
  const file = env.BALLAST_SECRET_FILE || secretFileOf(opts.dir);
  try {
    const secret = readSecretFile(file);
    const user = opts.user ? checkName("--user", opts.user) : cliUser(env);
    process.stdout.write(`${mintToken(secret, opts.cluster ? { role: "cluster" } : { role: "user", user })}\n`);
  } catch (err) {
    if (err instanceof AuthSetupError) throw new ExitError(err.message, 2);
    throw err;
  }
}

function cliToken(dir: string, operator: boolean, env: NodeJS.ProcessEnv): string | undefined {
  if (env.BALLAST_TOKEN) return env.BALLAST_TOKEN.trim();
  const file = env.BALLAST_SECRET_FILE || secretFileOf(dir);
  if (!env.BALLAST_SECRET_FILE && !existsSync(file)) return undefined;
  const secret = readSecretFile(file);
  return mintToken(secret, operator ? { role: "cluster" } : { role: "user", user: cliUser(env) });
}
