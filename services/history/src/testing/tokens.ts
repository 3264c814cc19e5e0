import { mintToken, type Identity } from "@ballast/common/auth";
import { processSecurity } from "@ballast/common/security";

/** A token of `identity` under this test process's secret (test/support/auth.ts sets it; spawned services get it too). */
export const testToken = (identity: Identity): string => mintToken(processSecurity().secret!, identity);

/** Headers that read history's HTTP API as a user. */
export const userHeaders = (user = "alice"): Record<string, string> => ({ authorization: `Bearer ${testToken({ role: "user", user })}` });
