import { describe, expect, it } from "vitest";
import { blobRefOf, resolveRange, validateName, validatePrefix, validateSha256 } from "./names.js";

describe("validateName", () => {
  it.each(["a", "inputs/corpus.txt", "bundles/x-1_2.mjs", "a/b/c/d", ".hidden", "a..b", "x".repeat(512)])("accepts %s", (name) => {
    expect(validateName(name)).toBe(name);
  });

  it.each(["", "/etc/passwd", "../secret", "a/../b", "a/./b", "a//b", "a/", ".", "..", "a b", "a\\b", "ü", "a\0b", "x".repeat(513)])(
    "rejects %j",
    (name) => {
      expect(() => validateName(name)).toThrow(/invalid name/);
    },
  );
});

describe("validateSha256 and prefixes", () => {
  it("wants 64 lowercase hex characters", () => {
    expect(validateSha256("a".repeat(64))).toBe("a".repeat(64));
    for (const bad of ["", "A".repeat(64), "a".repeat(63), "g".repeat(64), "a".repeat(65)]) {
      expect(() => validateSha256(bad)).toThrow(/invalid sha256/);
    }
  });

  it("accepts partial prefixes but not odd characters", () => {
    expect(validatePrefix("inputs/cor")).toBe("inputs/cor");
    expect(validatePrefix("")).toBe("");
    expect(() => validatePrefix("a b")).toThrow(/invalid name prefix/);
  });

  it("wants exactly one of name and sha256", () => {
    expect(blobRefOf("a", "")).toEqual({ name: "a" });
    expect(blobRefOf("", "b".repeat(64))).toEqual({ sha256: "b".repeat(64) });
    expect(() => blobRefOf("", "")).toThrow(/required/);
    expect(() => blobRefOf("a", "b".repeat(64))).toThrow(/not both/);
  });
});

describe("resolveRange", () => {
  it("reads to the end when length is 0", () => {
    expect(resolveRange(10, 0, 0)).toEqual({ start: 0, end: 10 });
    expect(resolveRange(10, 4, 0)).toEqual({ start: 4, end: 10 });
    expect(resolveRange(10, 10, 0)).toEqual({ start: 10, end: 10 });
    expect(resolveRange(0, 0, 0)).toEqual({ start: 0, end: 0 });
  });

  it("refuses ranges past the end", () => {
    expect(resolveRange(10, 2, 8)).toEqual({ start: 2, end: 10 });
    expect(() => resolveRange(10, 2, 9)).toThrow(expect.objectContaining({ name: "OutOfRangeError" }));
    expect(() => resolveRange(10, 11, 0)).toThrow(/past the end/);
  });
});
