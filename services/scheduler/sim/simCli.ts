/**
 * Runs the seeded simulation from the command line:
 *   npm run sim -- --seeds 500        seeds 1..500
 *   npm run sim -- --seed 42          one seed (to replay a failure)
 * Prints a summary line, and for each failing seed its violations and the
 * command that replays it; exits 1 on any failure.
 */
import { runSeeds } from "./scenarios.js";

function parseArgs(argv: string[]): number[] {
  const value = (flag: string): number | undefined => {
    const index = argv.indexOf(flag);
    if (index < 0) return undefined;
    const parsed = Number(argv[index + 1]);
    if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${flag} expects a non-negative integer`);
    return parsed;
  };
  const seed = value("--seed");
  if (seed !== undefined) return [seed];
  const count = value("--seeds") ?? 100;
  return Array.from({ length: count }, (_, i) => i + 1);
}

let seeds: number[];
try {
  seeds = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\nusage: npm run sim -- --seeds N | --seed S`);
  process.exit(2);
}
const started = performance.now();
const summary = runSeeds(seeds);
const faults = Object.entries(summary.faults).map(([kind, count]) => `${kind}=${count}`).join(" ");
console.log(
  `sim: ${summary.runs} seeds, ${summary.succeeded} succeeded, ${summary.failed} aborted with a stated cause, ` +
  `${summary.failing.size} with violations; ${summary.steps} steps in ${(performance.now() - started).toFixed(0)}ms; faults: ${faults}; ` +
  `speculative copies: ${summary.copies.launched} (${summary.copies.won} won); ` +
  `cached partitions: ${summary.cache.read} read, ${summary.cache.registeredAtEnd} registered at the end, ${summary.cache.lostMidJob} unreadable mid-job below skipped stages (recomputed); ` +
  `drivers: ${summary.drivers.launched} launched, ${summary.drivers.placedAgain} placed again, ${summary.drivers.stopped} stale stopped; ` +
  `take-back: ${summary.takeBack.asked} asked back, ${summary.takeBack.revoked} revoked (the rest had started)`,
);
for (const [seed, violations] of summary.failing) {
  for (const violation of violations.slice(0, 5)) console.log(`  ${violation}`);
  console.log(`  replay: npm run sim -- --seed ${seed}`);
}
process.exit(summary.failing.size > 0 ? 1 : 0);
