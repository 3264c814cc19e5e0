import type { Message } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { AppDefinition, JobDefinition } from "ballast";
import { builtEntry } from "@ballast/common/entry";
import { writeFileDurable } from "@ballast/common/durable";
import { InvalidArgumentError } from "@ballast/common/errors";

/** The SDK a job imports as "ballast", wherever the job file lives: the built package, bundled into the job. */
const SDK_ENTRY = builtEntry("ballast", ".");

export interface Bundle {
  path: string;
  sha256: string;
  size: number;
  definition: JobDefinition | AppDefinition;
}

/** A user mistake in the job file: shown as its message, never a stack trace of ours. */
export class JobFileError extends InvalidArgumentError {}

/**
 * Bundles a job file and the SDK into one ES module (inline source maps so
 * stack frames point at the user's file), then imports it to get the job
 * definition, exactly as executors will.
 */
export async function bundleJob(jobFile: string): Promise<Bundle> {
  const entry = resolve(jobFile);
  if (!existsSync(entry)) throw new JobFileError(`job file not found: ${jobFile}`);
  const manifestPath = manifestPathOf(entry);
  const sha256 = reusableBundle(manifestPath) ?? (await buildBundle(entry, manifestPath));
  const path = bundlePathOf(sha256);
  const definition = await importDefinition(path, jobFile);
  return { path, sha256, size: statSync(path).size, definition };
}

/**
 * What a bundle was built from: every input file with its size and modification time. A submit
 * whose inputs are all unchanged reuses the bundle instead of running esbuild again (loading it,
 * starting its service process and building were a third of a repeated `ballast submit`'s start).
 */
interface BundleManifest {
  sha256: string;
  inputs: Array<{ path: string; size: number; mtimeMs: number }>;
}

/** One manifest per job file and SDK build (a rebuilt SDK is an input too, so this only keys the file). */
function manifestPathOf(entry: string): string {
  const key = createHash("sha256").update(JSON.stringify([entry, SDK_ENTRY, process.version])).digest("hex").slice(0, 32);
  return join(bundleDir(), `manifest-${key}.json`);
}

/** The digest of the bundle built last from these very input files, if it is still there. */
function reusableBundle(manifestPath: string): string | undefined {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as BundleManifest;
  } catch {
    return undefined;
  }
  const unchanged = manifest.inputs.every((input) => {
    const stats = statSync(input.path, { throwIfNoEntry: false });
    return stats !== undefined && stats.size === input.size && stats.mtimeMs === input.mtimeMs;
  });
  return unchanged && existsSync(bundlePathOf(manifest.sha256)) ? manifest.sha256 : undefined;
}

async function buildBundle(entry: string, manifestPath: string): Promise<string> {
  const { build } = await import("esbuild");
  const startedAt = Date.now();
  let code: Uint8Array;
  let inputs: string[];
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "inline",
      // Stack frames need only the mappings: without the sources' text (the SDK's and every bundled
      // package's too) the word count bundle is 364 KB instead of 670, which every executor fetches,
      // and every process that imports it decodes and parses.
      sourcesContent: false,
      // Absolute source paths (relative to "/" plus sourceRoot "/"), so stack frames point at the
      // user's file wherever the bundle is stored: here, or in an executor's bundle cache.
      outfile: "/ballast-job.mjs",
      sourceRoot: "/",
      write: false,
      logLevel: "silent",
      metafile: true,
      alias: { ballast: SDK_ENTRY },
      // Packages the user imports from node_modules are bundled too; node built-ins stay external.
    });
    code = result.outputFiles[0]!.contents;
    inputs = Object.keys(result.metafile.inputs).map((file) => resolve(file));
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors ?? [];
    const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text));
    throw new JobFileError(`job file does not compile:\n${lines.join("\n") || (err as Error).message}`);
  }
  const sha256 = createHash("sha256").update(code).digest("hex");
  // Renamed into place: another submit of the same file may be importing this very path.
  writeFileDurable(bundlePathOf(sha256), code);
  writeManifest(manifestPath, sha256, inputs, startedAt);
  return sha256;
}

/**
 * Records what the bundle was built from, unless an input changed shortly before or during the
 * build (esbuild may have read the old bytes under the new time; file times can be coarse): the
 * next submit then builds again rather than trust it.
 */
function writeManifest(manifestPath: string, sha256: string, inputs: string[], startedAt: number): void {
  const manifest: BundleManifest = { sha256, inputs: inputs.map((path) => ({ path, ...sizeAndTime(path) })) };
  if (manifest.inputs.some((input) => input.mtimeMs >= startedAt - FILE_TIME_SLACK_MS)) return rmSync(manifestPath, { force: true });
  writeFileDurable(manifestPath, JSON.stringify(manifest));
}

const FILE_TIME_SLACK_MS = 2000;

function sizeAndTime(path: string): { size: number; mtimeMs: number } {
  const { size, mtimeMs } = statSync(path);
  return { size, mtimeMs };
}

/** Where this process keeps a bundle by its digest. */
export function bundlePathOf(sha256: string): string {
  return join(bundleDir(), `${sha256}.mjs`);
}

function bundleDir(): string {
  const dir = join(tmpdir(), "ballast-bundles");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A bundle already built (an application's, fetched from staging to resume it), loaded as executors load it. */
export async function loadBundle(path: string, sha256: string, what: string): Promise<Bundle> {
  const definition = await importDefinition(path, what);
  return { path, sha256, size: statSync(path).size, definition };
}

async function importDefinition(path: string, jobFile: string): Promise<JobDefinition | AppDefinition> {
  let module: { default?: unknown };
  // The bundle's inline source map turns its frames into the user's file and line.
  process.setSourceMapsEnabled(true);
  try {
    module = await import(pathToFileURL(path).href);
  } catch (err) {
    throw new JobFileError(`job file failed while loading: ${(err as Error).message}\n${userFrames((err as Error).stack)}`);
  }
  const definition = module.default as JobDefinition | AppDefinition | undefined;
  const kind = (definition as { kind?: string } | undefined)?.kind;
  if (!definition || (kind !== "ballast-job" && kind !== "ballast-app")) {
    throw new JobFileError(
      `${jobFile} must \`export default job("name", (ctx) => ...)\` or \`export default app("name", async (ctx) => ...)\` (imported from "ballast")`,
    );
  }
  return definition;
}

const BALLAST_CODE = [fileURLToPath(new URL("../../", import.meta.url)), fileURLToPath(new URL("../../../services/", import.meta.url)), "/node_modules/", "node:"];

/** The frames of a stack that are in the user's code, not in Ballast, its dependencies or Node. */
export function userFrames(stack: string | undefined): string {
  return (stack ?? "")
    .split("\n")
    .filter((l) => /^\s+at /.test(l) && !BALLAST_CODE.some((path) => l.includes(path)))
    .join("\n");
}
