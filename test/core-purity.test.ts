// The rule of the house for every service's core/: logic only. A clock, randomness, the process or
// any Node module there would make the scheduler's replay diverge and the other cores untestable
// without I/O, so this fails the build the moment one appears.
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./support/cluster.js";

const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\.now\b|\bnew Date\b|\bDate\(\)/, "a clock"],
  [/\bperformance\.|\bprocess\.hrtime\b/, "a clock"],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, "a timer"],
  [/\bMath\.random\b|\bcrypto\.|\bgetRandomValues\b/, "randomness"],
  [/\bprocess\b/, "the process"],
];
const BUILTINS = new Set(builtinModules);

/** Production files of every services/<name>/src/core (tests and testing helpers aside). */
function coreFiles(): string[] {
  const services = join(REPO, "services");
  return readdirSync(services).flatMap((service) => {
    const core = join(services, service, "src", "core");
    let entries: string[];
    try {
      entries = readdirSync(core, { recursive: true, encoding: "utf8" });
    } catch {
      return [];
    }
    return entries.filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.split("/").includes("testing")).map((f) => join(core, f));
  });
}

/** The code of a file without comments and string contents, so prose and messages cannot trip the check. */
function codeOf(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "")
    .replace(/`(?:\\.|[^`\\])*`|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'/g, '""');
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)"([^"]+)"/gm)].map((m) => m[1]!);
}

/** What is wrong with one core file, one line per finding. */
function problemsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const where = relative(REPO, file);
  const problems = FORBIDDEN.filter(([pattern]) => pattern.test(codeOf(text))).map(([, what]) => `${where} uses ${what}`);
  for (const spec of importsOf(text)) {
    const bare = spec.replace(/^node:/, "").split("/")[0]!;
    if (spec.startsWith("node:") || BUILTINS.has(bare)) problems.push(`${where} imports the Node module ${spec}`);
    if (spec.startsWith("@grpc/") || spec.startsWith("@ballast/gen")) problems.push(`${where} imports wire code ${spec}`);
  }
  return problems;
}

describe("service cores", () => {
  const files = coreFiles();

  it("exist where the layout says (so this check is not vacuous)", () => {
    expect(files.some((f) => f.includes("/scheduler/src/core/"))).toBe(true);
    expect(files.length).toBeGreaterThan(10);
  });

  it("use no clock, randomness, process, Node module or wire code", () => {
    expect(files.flatMap(problemsOf)).toEqual([]);
  });

  it("the check itself catches each kind of offence", () => {
    const offences = ["Date.now()", "Math.random()", "process.exit(1)", "setTimeout(f, 1)", 'import { x } from "node:fs";', 'import { y } from "fs";'];
    for (const line of offences) {
      const text = `export const f = () => 1;\n${line}\n`;
      const found = FORBIDDEN.some(([p]) => p.test(codeOf(text))) || importsOf(text).length > 0;
      expect(found, line).toBe(true);
    }
    expect(FORBIDDEN.some(([p]) => p.test(codeOf("// Date.now() is not called here\nconst s = \"process\";")))).toBe(false);
  });
});
