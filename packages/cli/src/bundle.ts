import { build, type Message } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { AppDefinition, JobDefinition } from "ballast";
import { builtEntry } from "@ballast/common/entry";
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
  let code: Uint8Array;
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "inline",
      // Absolute source paths (relative to "/" plus sourceRoot "/"), so stack frames point at the
      // user's file wherever the bundle is stored: here, or in an executor's bundle cache.
      outfile: "/ballast-job.mjs",
      sourceRoot: "/",
      write: false,
      logLevel: "silent",
      alias: { ballast: SDK_ENTRY },
      // Packages the user imports from node_modules are bundled too; node built-ins stay external.
    });
    code = result.outputFiles[0]!.contents;
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors ?? [];
    const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text));
    throw new JobFileError(`job file does not compile:\n${lines.join("\n") || (err as Error).message}`);
  }
  const sha256 = createHash("sha256").update(code).digest("hex");
  const path = bundlePathOf(sha256);
  writeFileSync(path, code);
  const definition = await importDefinition(path, jobFile);
  return { path, sha256, size: code.byteLength, definition };
}

/** Where this process keeps a bundle by its digest. */
export function bundlePathOf(sha256: string): string {
  const dir = join(tmpdir(), "ballast-bundles");
  mkdirSync(dir, { recursive: true });
  return join(dir, `${sha256}.mjs`);
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
