/** Test helpers: bundle a tiny job the way `ballast submit` does, and build its plan. */
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { builtEntry } from "@ballast/common/entry";
import type { Plan } from "@ballast/common/plan";

const SDK_ENTRY = builtEntry("ballast", ".");

export interface BundledJob {
  sourcePath: string;
  bundlePath: string;
  sha256: string;
}

/** Writes `source` to dir/<name>.ts and bundles it into one ES module with an inline source map. */
export async function bundleJob(dir: string, name: string, source: string): Promise<BundledJob> {
  const sourcePath = join(dir, `${name}.ts`);
  const bundlePath = join(dir, `${name}.bundle.mjs`);
  writeFileSync(sourcePath, source);
  await build({
    entryPoints: [sourcePath],
    outfile: bundlePath,
    bundle: true,
    format: "esm",
    platform: "node",
    sourcemap: "inline",
    alias: { ballast: SDK_ENTRY },
    logLevel: "silent",
  });
  const sha256 = createHash("sha256").update(readFileSync(bundlePath)).digest("hex");
  return { sourcePath, bundlePath, sha256 };
}

/** Evaluates the bundled job definition here to get its plan, as the CLI does at submit. */
export async function planOf(job: BundledJob, args: string[] = [], inputSizes: Record<string, number> = {}): Promise<Plan> {
  const module = await import(pathToFileURL(job.bundlePath).href);
  return module.default.buildPlan({ args, inputSize: (uri: string) => inputSizes[uri] ?? 0 }).plan as Plan;
}

/** A job whose behaviour is chosen by --mode: ok (doubles 0..9), throw (fails on 3), spin (busy-loops --spinMs first), crash (exits the thread). */
export const MODE_JOB = `import { job } from "ballast";

function check(x: number, mode: string): number {
  if (mode === "throw" && x === 3) throw new Error("boom at three");
  return x * 2;
}

export default job("modes", (ctx) => {
  const mode = ctx.arg("mode", "ok");
  const spinMs = Number(ctx.arg("spinMs", "0"));
  return ctx
    .range(10, 2)
    .mapPartitions((items) => {
      const until = Date.now() + spinMs;
      while (Date.now() < until) {}
      if (mode === "crash") process.exit(7);
      const kept: Array<{ i: number; s: string }> = [];
      if (mode === "hog") for (let i = 0; i < 8_000_000; i++) kept.push({ i, s: "x" + i }); // some 400 MB, all alive
      return kept.length > 0 ? items.concat([kept.length]) : items;
    })
    .map((x) => check(x, mode))
    .collect();
});
`;

/** One shuffle: counts of x % 3 over 0..9, 2 map partitions, 2 reduce partitions. */
export const PAIRS_JOB = `import { job } from "ballast";
export default job("pairs", (ctx) =>
  ctx.range(10, 2).map((x) => [x % 3, 1] as const).reduceByKey((a, b) => a + b, { partitions: 2 }).collect());
`;

/** Reads a text file and saves it upper-cased, to --output. */
export const TEXT_JOB = `import { job } from "ballast";
export default job("upper", (ctx) =>
  ctx.textFile(ctx.arg("input"), { minPartitions: 2 }).map((line) => line.toUpperCase()).saveAsTextFile(ctx.arg("output")));
`;
