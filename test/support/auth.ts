/**
 * Every test process runs with authentication on, as a real deployment does: one cluster secret
 * per test file, in BALLAST_SECRET_FILE (so the services and CLI commands a test spawns find it)
 * and this process's own credentials (so in-process servers verify tokens and in-process clients
 * send the cluster's). Tests about authentication itself set other credentials explicitly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { ensureSecretFile, mintToken, readSecretFile, type Identity } from "@ballast/common/auth";
import { cliUser } from "@ballast/cli/credentials";
import { configureSecurity } from "@ballast/common/security";

const dir = mkdtempSync(join(tmpdir(), "ballast-secret-"));
const secretFile = join(dir, "secret");
ensureSecretFile(secretFile);
process.env.BALLAST_SECRET_FILE = secretFile;
const secret = readSecretFile(secretFile);
configureSecurity({ secret, token: mintToken(secret, { role: "cluster" }) });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A token under this test file's secret. */
export const testToken = (identity: Identity): string => mintToken(secret, identity);

/** The token the `ballast` commands a test runs use: the user's (BALLAST_USER, else the login name). */
export const cliUserToken = (): string => testToken({ role: "user", user: cliUser() });

/** Headers that let a test read history's HTTP API as the CLI's user (any user reads all of history). */
export const historyHeaders = (identity: Identity = { role: "user", user: cliUser() }): Record<string, string> => ({ authorization: `Bearer ${testToken(identity)}` });
