#!/usr/bin/env node
// Compiles every workspace's TypeScript to JavaScript in its dist/, so the `ballast` command and
// the services start without a transpiler. File by file (no bundling): each package keeps its
// module layout and imports its neighbours by name through their package.json exports.
// Type checking is `npm run typecheck`'s job; this only strips types, in well under a second.
// The `ballast` command alone is also bundled into one file (see bundleCli).
import { build } from "esbuild";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
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

/** Production sources of one workspace: every .ts under its source root (gen/ itself for the generated code) but tests. */
function sourcesOf(dir) {
  const sourceRoot = join(ROOT, dir, dir === "gen" ? "" : "src");
  const files = readdirSync(sourceRoot, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.endsWith(".d.ts"))
    .filter((file) => !file.startsWith("dist/") && !file.startsWith("node_modules/"))
    .map((file) => join(sourceRoot, file));
  return { sourceRoot, files };
}

/**
 * Removes what no source produces any more (a deleted or moved module). Files are overwritten in
 * place rather than dist/ being emptied first, so a process starting during a rebuild (another
 * test run) never finds its modules missing.
 */
function removeStale(distRoot, outputs) {
  if (!existsSync(distRoot)) return;
  for (const file of readdirSync(distRoot, { recursive: true, encoding: "utf8" })) {
    const path = join(distRoot, file);
    if (path.endsWith(".js") && !outputs.has(path)) rmSync(path);
  }
}

const CLI_BUNDLE = join(ROOT, "packages/cli/dist/ballast.bundle.mjs");
const CLI_BUNDLE_INPUTS = `${CLI_BUNDLE}.inputs.json`;
const BUILD_SCRIPT = new URL(import.meta.url).pathname;
/**
 * Packages left out of the CLI's bundle: esbuild and better-sqlite3 carry native binaries, pino
 * loads transports by file; the OTLP exporter (with its protobufjs, 1 MB) is imported only when
 * traces are exported, so it stays a module of its own that most runs never load.
 */
const CLI_EXTERNAL = ["esbuild", "better-sqlite3", "pg-native", "pino", "pino-pretty", "thread-stream", "@opentelemetry/exporter-trace-otlp-http"];

/** True when the CLI's bundle is newer than every file it was built from. */
function cliBundleCurrent() {
  if (!existsSync(CLI_BUNDLE) || !existsSync(CLI_BUNDLE_INPUTS)) return false;
  const builtAt = statSync(CLI_BUNDLE).mtimeMs;
  const inputs = JSON.parse(readFileSync(CLI_BUNDLE_INPUTS, "utf8"));
  return inputs.includes(BUILD_SCRIPT) && inputs.every((file) => existsSync(file) && statSync(file).mtimeMs < builtAt);
}

/**
 * `ballast` as one module (bin/ballast.mjs imports it): loading the CLI's ~650 modules one by one
 * (resolution, reads, compiles) was most of a `ballast submit`'s own CPU before it sent the job.
 * Built from the sources (the workspaces' `source` export), so it is rebuilt only when one changed.
 * Bundled CommonJS dependencies require node's built-ins through a real `require`.
 */
async function bundleCli() {
  if (cliBundleCurrent()) return;
  const result = await build({
    entryPoints: [join(ROOT, "packages/cli/src/main.ts")],
    outfile: CLI_BUNDLE,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    conditions: ["source"],
    external: CLI_EXTERNAL,
    banner: { js: 'import { createRequire as __ballastCreateRequire } from "node:module"; const require = __ballastCreateRequire(import.meta.url);' },
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  // Renamed into place: a `ballast` starting during a rebuild loads the old bundle or the new, never half of one.
  writeFileSync(`${CLI_BUNDLE}.tmp`, result.outputFiles[0].contents);
  renameSync(`${CLI_BUNDLE}.tmp`, CLI_BUNDLE);
  // This script is an input too: a change to how the bundle is made (its externals) remakes it.
  const inputs = [BUILD_SCRIPT, ...Object.keys(result.metafile.inputs).map((file) => join(ROOT, file))];
  writeFileSync(CLI_BUNDLE_INPUTS, JSON.stringify(inputs));
}

const started = performance.now();
let count = 0;
for (const dir of workspaceDirs()) {
  const { sourceRoot, files } = sourcesOf(dir);
  const outdir = join(ROOT, dir, "dist");
  await build({ entryPoints: files, outdir, outbase: sourceRoot, format: "esm", platform: "node", target: "node20", logLevel: "warning" });
  removeStale(join(ROOT, dir, "dist"), new Set(files.map((f) => join(outdir, relative(sourceRoot, f)).replace(/\.ts$/, ".js"))));
  count += files.length;
}
await bundleCli();
const ms = Math.round(performance.now() - started);
process.stdout.write(`built ${count} files in ${ms} ms (${relative(process.cwd(), ROOT) || "."}: */dist)\n`);
