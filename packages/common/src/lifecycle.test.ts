import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CRASH_EXIT_CODE } from "./lifecycle.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));

// A real process with the built module: an unawaited rejection is logged and survived, an uncaught throw ends it cleanly.
const SCRIPT = `
import { guardProcess } from "@ballast/common/lifecycle";
import { createLogger } from "@ballast/common/logging";
guardProcess(createLogger("guarded"));
Promise.reject(new Error("nobody awaited me"));
setTimeout(() => {
  process.stdout.write("still up\\n");
  setTimeout(() => { throw new Error("boom"); }, 20);
}, 200);
`;

describe("guardProcess", () => {
  it("logs an unhandled rejection and goes on; logs an uncaught exception and exits with the crash code", () => {
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT], { cwd: REPO, encoding: "utf8", env: { ...process.env, BALLAST_LOG_FORMAT: "json" }, timeout: 20_000 });
    expect(run.stdout).toBe("still up\n");
    expect(run.status).toBe(CRASH_EXIT_CODE);
    const lines = run.stderr.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.map((l) => [l.msg, l.err?.message])).toEqual([
      ["unhandled promise rejection; the service goes on", "nobody awaited me"],
      ["uncaught exception; exiting for the supervisor", "boom"],
    ]);
  });
});
