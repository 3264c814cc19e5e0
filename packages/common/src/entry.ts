/**
 * Where a workspace package's process entry lives, found through the package itself (its
 * package.json `exports`), never through source paths: the CLI launches services this way, and
 * tests spawn the same built code users run.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

interface ExportTarget {
  source?: string;
  default?: string;
}

/** The directory of an installed workspace package (e.g. "@ballast/scheduler"). */
export function packageDir(packageName: string): string {
  return dirname(require.resolve(`${packageName}/package.json`));
}

/** The built JavaScript file a package exports at `subpath` (e.g. "./main"). */
export function builtEntry(packageName: string, subpath = "./main"): string {
  const dir = packageDir(packageName);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { exports?: Record<string, ExportTarget | string> };
  const target = manifest.exports?.[subpath];
  const file = typeof target === "string" ? target : target?.default;
  if (!file) throw new Error(`${packageName} exports no ${subpath}`);
  return join(dir, file);
}
