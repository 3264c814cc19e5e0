import { describe, expect, it } from "vitest";
import { addressProblem, idProblem, integerProblem, LIMITS, nameProblem, optionalIdProblem } from "./limits.js";

describe("shared limits", () => {
  it("ids: required, bounded, no control characters", () => {
    expect(idProblem("job_id", "job-0001")).toBeUndefined();
    expect(idProblem("job_id", "")).toBe("job_id is required");
    expect(idProblem("job_id", "x".repeat(LIMITS.idLength))).toBeUndefined();
    expect(idProblem("job_id", "x".repeat(LIMITS.idLength + 1))).toMatch(/longer than 200/);
    expect(idProblem("job_id", "a\u007fb")).toMatch(/control character/);
    expect(optionalIdProblem("submission_id", "")).toBeUndefined();
    expect(nameProblem("name", "")).toBeUndefined();
  });

  it("integers: safe and in range", () => {
    expect(integerProblem("slots", 4, 1, 8)).toBeUndefined();
    expect(integerProblem("slots", 0, 1, 8)).toMatch(/in \[1, 8\], got 0/);
    expect(integerProblem("seq", 2 ** 53, 0)).toMatch(/integer >= 0/);
    expect(integerProblem("seq", 1.5, 0)).toBeDefined();
  });

  it("addresses: host:port and nothing else", () => {
    for (const ok of ["127.0.0.1:7337", "node-1.example:1", "[::1]:65535", "h:80"]) expect(addressProblem("a", ok)).toBeUndefined();
    for (const bad of ["127.0.0.1:7337\n", "h", "h:0", "h:65536", "http://h:1", "-h:1", "h :1", ":80", "[zz]:1"]) expect(addressProblem("a", bad)).toMatch(/is not host:port/);
  });
});
