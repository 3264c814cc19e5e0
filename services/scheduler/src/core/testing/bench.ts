/**
 * Throughput of step() on a 20,000-task job (10,000 maps, 10,000 reduces),
 * 16 executors x 8 slots. Run: node --import tsx services/scheduler/src/core/testing/bench.ts
 * Not a test: timings depend on the machine.
 */
import { jobView } from "../views.js";
import { Harness } from "./harness.js";
import { twoStagePlan } from "./plans.js";

const maps = Number(process.argv[2] ?? 10_000);
const reduces = Number(process.argv[3] ?? 10_000);
const h = new Harness();
for (let i = 0; i < 16; i++) h.addExecutor(`e${String(i).padStart(2, "0")}`, `n${i}`, 8);
const started = performance.now();
h.submit("bench", twoStagePlan(maps, reduces));
h.runAll();
const elapsedMs = performance.now() - started;
const view = jobView(h.state, "bench")!;
const tasks = view.stats.tasksLaunched;
const perSecond = (ms: number): number => Math.round((tasks / ms) * 1000);
console.log(`${view.status}: ${tasks} tasks, ${h.log.length} commands`);
console.log(`inside step(): ${h.stepMs.toFixed(0)}ms = ${perSecond(h.stepMs)} tasks/s; with the fake executor: ${elapsedMs.toFixed(0)}ms = ${perSecond(elapsedMs)} tasks/s`);
