import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The core's modules must form layers (queries below entities below the
 * dispatcher): any import cycle among its production files (tests and
 * testing helpers aside) fails here, with the cycle printed.
 */
const CORE = dirname(fileURLToPath(import.meta.url));

function productionFiles(): string[] {
  return readdirSync(CORE).filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts")).sort();
}

/** Relative imports (type-only ones too: they are edges of the design) from `file` to other core files. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(CORE, file), "utf8");
  const targets = new Set<string>();
  const pattern = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/g;
  for (const match of source.matchAll(pattern)) {
    const target = relative(CORE, resolve(CORE, match[1]!.replace(/\.js$/, ".ts")));
    if (!target.startsWith("..") && !target.includes("/")) targets.add(target);
  }
  return [...targets].sort();
}

/** The first cycle found by depth-first search, as a path that starts and ends at the same file. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "visiting") return [...path.slice(path.indexOf(file)), file];
    state.set(file, "visiting");
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("core import graph", () => {
  const graph = new Map(productionFiles().map((file) => [file, importsOf(file)]));

  it("sees the core's modules and their imports", () => {
    expect(graph.get("step.ts")).toContain("handlers.ts");
    expect(graph.get("index.ts")).toContain("step.ts");
  });

  it("has no import cycle", () => {
    const cycle = findCycle(graph);
    if (cycle) console.error(`import cycle in services/scheduler/src/core: ${cycle.join(" -> ")}`);
    expect(cycle, cycle && `import cycle: ${cycle.join(" -> ")}`).toBeUndefined();
  });

  it("finds a cycle when there is one", () => {
    expect(findCycle(new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]]]))).toEqual(["a.ts", "b.ts", "c.ts", "a.ts"]);
  });
});
