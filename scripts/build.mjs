#!/usr/bin/env node
// Compiles every workspace's TypeScript to JavaScript in its dist/, so the `ballast` command and
// the services start without a transpiler. File by file (no bundling): each package keeps its
// module layout and imports its neighbours by name through their package.json exports.
// Type checking is `npm run typecheck`'s job; this only strips types, in well under a second.
import { build } from "esbuild";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const { workspaces } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

/** Workspace directories, with the `services/*` pattern expanded. */
function workspaceDirs() {
  return workspaces.flatMap((pattern) =>
    pattern.endsWith("/*")
      ? readdirSync(join(ROOT, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(pattern.slice(0, -2), entry.name))
      : [pattern],
  );
}

/** Production sources of one workspace: every .ts under its source root but tests. */
function sourcesOf(dir) {
  const sourceRoot = join(ROOT, dir, dir === "gen" ? "ballast" : "src");
  const files = readdirSync(sourceRoot, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.endsWith(".d.ts"))
    .map((file) => join(sourceRoot, file));
  return { sourceRoot, files };
}

const started = performance.now();
let count = 0;
for (const dir of workspaceDirs()) {
  const { sourceRoot, files } = sourcesOf(dir);
  const outdir = join(ROOT, dir, "dist", dir === "gen" ? "ballast" : "");
  rmSync(join(ROOT, dir, "dist"), { recursive: true, force: true });
  await build({ entryPoints: files, outdir, outbase: sourceRoot, format: "esm", platform: "node", target: "node20", logLevel: "warning" });
  count += files.length;
}
const ms = Math.round(performance.now() - started);
process.stdout.write(`built ${count} files in ${ms} ms (${relative(process.cwd(), ROOT) || "."}: */dist)\n`);
