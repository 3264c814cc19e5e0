// The workspace rules: every package has a package.json with a name and an exports map, and no
// import climbs out of its package with a relative path (packages meet only by name, through
// what the other package exports).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./support/cluster.js";

interface Manifest {
  name?: string;
  exports?: Record<string, unknown>;
}

const rootManifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { workspaces: string[] };

function workspaceDirs(): string[] {
  return rootManifest.workspaces.flatMap((pattern) =>
    pattern.endsWith("/*")
      ? readdirSync(join(REPO, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(REPO, pattern.slice(0, -2), entry.name))
      : [join(REPO, pattern)],
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.(ts|mjs)$/.test(f) && !f.split(sep).some((part) => part === "node_modules" || part === "dist"))
    .map((f) => join(dir, f));
}

/** Relative imports of a file that resolve outside `packageDir`. */
function escapingImports(file: string, packageDir: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)"(\.{1,2}\/[^"]+)"/gm)]
    .map((m) => m[1]!)
    .filter((spec) => relative(packageDir, resolve(dirname(file), spec)).startsWith(".."))
    .map((spec) => `${relative(REPO, file)} imports ${spec}`);
}

describe("workspace packages", () => {
  const dirs = workspaceDirs();

  it("are the packages and services the layout names", () => {
    const names = dirs.map((d) => relative(REPO, d)).sort();
    expect(names).toEqual(expect.arrayContaining(["gen", "packages/cli", "packages/clients", "packages/common", "packages/sdk", "services/scheduler", "services/executor", "services/shuffle", "services/staging", "services/history"]));
  });

  it("each have a package.json with a name and an exports map", () => {
    for (const dir of dirs) {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
      expect(manifest.name, dir).toBeTruthy();
      expect(Object.keys(manifest.exports ?? {}).length, `${manifest.name} exports nothing`).toBeGreaterThan(0);
    }
  });

  it("never import across a package boundary with a relative path", () => {
    const offences = dirs.flatMap((dir) => sourceFiles(dir).flatMap((file) => escapingImports(file, dir)));
    expect(offences).toEqual([]);
  });

  it("the check sees an escaping import when there is one", () => {
    const root = mkdtempSync(join(tmpdir(), "ballast-packages-"));
    try {
      const file = join(root, "pkg", "src", "a.ts");
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, 'import { b } from "./b.js";\nimport { c } from "../../other/src/c.js";\n');
      expect(escapingImports(file, join(root, "pkg"))).toHaveLength(1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
