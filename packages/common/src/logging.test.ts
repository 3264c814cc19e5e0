import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

/** What a fresh process (running the built code) writes to stderr, a pipe here, when it logs one line. */
function loggedLine(env: Record<string, string>): string {
  const script = `import("@ballast/common/logging").then(({ createLogger }) => createLogger("probe").info({ jobId: "job-1" }, "hello"))`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return result.stderr;
}

describe("service logs", () => {
  it("are JSON lines when stderr is not a terminal", () => {
    expect(JSON.parse(loggedLine({}).trim())).toMatchObject({ level: 30, service: "probe", msg: "hello", jobId: "job-1" });
  });

  it("are human-readable with pino-pretty, as on a terminal (BALLAST_LOG_FORMAT=pretty forces it)", () => {
    const text = loggedLine({ BALLAST_LOG_FORMAT: "pretty"});
    expect(text).toMatch(/INFO.*hello/);
    expect(text).toContain('jobId: "job-1"');
    expect(() => JSON.parse(text.trim())).toThrow();
  });
});
