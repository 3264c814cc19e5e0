/**
 * app(name, async (ctx) => ...): a driver program of any number of actions,
 * each run as one job of the application. The program runs where the driver
 * is (the CLI); executors rebuild action N's graph by replaying the program
 * with the recorded results of actions 0..N-1 (see DriverPosition).
 */
import type { DriverPosition } from "@ballast/common/plan";
import { JobContext } from "./context.js";
import { JobDefinitionError } from "./errors.js";
import { Graph, type ActionSpec, type RawActionResult } from "./graph.js";
import { checkJobName } from "./job.js";
import { assemblePlan } from "./planAssembly.js";
import { decodeCollected, packRecords } from "./runtime/codec.js";
import { runPartition } from "./runtime/runPartition.js";
import type { AppDefinition, AppRunOptions, BuiltJob, PlanOptions } from "./types.js";

export type DriverProgram = (ctx: JobContext) => Promise<unknown>;

export function app(name: string, program: DriverProgram): AppDefinition {
  checkJobName("app", name);
  if (typeof program !== "function") throw new JobDefinitionError(`app "${name}": the second argument must be an async function (ctx) => ...`);
  return {
    kind: "ballast-app",
    name,
    run: (options) => runProgram(name, program, options),
    buildPlan: (options) => replayTo(name, program, options),
  };
}

/**
 * Runs the program; action i returns options.recorded[i] when there is one
 * (a replay), otherwise its job goes to options.runJob. Actions run one at a
 * time in the order the program calls them, which is what numbers them.
 */
async function runProgram(name: string, program: DriverProgram, options: AppRunOptions): Promise<unknown> {
  // Every result so far, recorded or just run: action i's plan carries results 0..i-1.
  const results = (options.recorded ?? []).map(rawResult);
  const run = async (index: number, action: ActionSpec): Promise<RawActionResult> => {
    // Recorded call sites reach one past the results when the next action's job is still running (rejoined).
    checkSameAction(name, index, action, options.recordedCallSites?.[index]);
    if (index < results.length) return results[index]!;
    const driver = { actionIndex: index, recordedResults: encodeResults(results), callSite: action.callSite };
    const result = rawResult(await options.runJob(builtJobOf(name, action, options.args, driver), index));
    results.push(result);
    return result;
  };
  const graph = new Graph(name, sequentially(run), options.unpersist);
  try {
    return await program(new JobContext(graph, [...options.args], options.inputSize));
  } finally {
    graph.close();
  }
}

/** The executor's side: replays the program up to the plan's action and returns that action's job. */
async function replayTo(name: string, program: DriverProgram, options: PlanOptions): Promise<BuiltJob> {
  const position = options.driver;
  if (!position) throw new JobDefinitionError(`app "${name}": building an action's plan needs its position in the driver program`);
  const recorded = decodeResults(position.recordedResults);
  let reached: (built: BuiltJob) => void = () => undefined;
  const found = new Promise<BuiltJob>((resolve) => (reached = resolve));
  const finished = runProgram(name, program, {
    args: options.args,
    inputSize: options.inputSize,
    recorded,
    runJob: (built) => {
      reached(built);
      // The program stays suspended at this action; the executor only needs its graph.
      return new Promise<never>(() => undefined);
    },
  }).then(() => {
    throw new JobDefinitionError(
      `app "${name}" is not deterministic: replayed with the recorded results, it ended before its action #${position.actionIndex + 1}`,
    );
  });
  return Promise.race([found, finished]);
}

/** A replay must call, at every recorded point, the action that was recorded there. */
function checkSameAction(name: string, index: number, action: ActionSpec, recordedCallSite: string | undefined): void {
  if (recordedCallSite === undefined || recordedCallSite === action.callSite) return;
  throw new JobDefinitionError(
    `app "${name}" is not deterministic: replayed, its action #${index + 1} is called at ${action.callSite}, ` +
      `but the recorded action #${index + 1} was called at ${recordedCallSite} (the program must ask for the same actions in the same order)`,
  );
}

function builtJobOf(name: string, action: ActionSpec, args: readonly string[], driver: DriverPosition): BuiltJob {
  const { plan, nodes } = assemblePlan(name, action, [...args], driver);
  return { plan, runPartition: (task, io) => runPartition(plan, nodes, action, task, io) };
}

/** Chains action runs so the next starts after the previous one ended (Promise.all of two actions still numbers them by call order). */
function sequentially(
  run: (index: number, action: ActionSpec) => Promise<RawActionResult>,
): (action: ActionSpec) => Promise<unknown> {
  let index = 0;
  let previous: Promise<unknown> = Promise.resolve();
  return (action) => {
    const mine = index++;
    const raw = previous.then(() => run(mine, action));
    previous = raw.catch(() => undefined);
    return raw.then((result) => action.finish(result));
  };
}

/** Only defined fields, so results round-trip msgpack unchanged. */
export function rawResult(result: RawActionResult): RawActionResult {
  return Object.fromEntries(Object.entries(result).filter(([, value]) => value !== undefined));
}

function encodeResults(results: RawActionResult[]): string {
  return Buffer.from(packRecords(results.map(rawResult))).toString("base64");
}

function decodeResults(encoded: string): RawActionResult[] {
  if (!encoded) return [];
  return decodeCollected([Buffer.from(encoded, "base64")]) as RawActionResult[];
}
