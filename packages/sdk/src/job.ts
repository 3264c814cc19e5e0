/**
 * job(name, build): the definition object a job module exports. buildPlan
 * evaluates build(ctx) on a fresh graph, assembles the Plan and returns a
 * runner for its partitions, all reachable from this object alone.
 */
import { JobContext } from "./context.js";
import { JobDefinitionError } from "./errors.js";
import { Graph, type ActionSpec } from "./graph.js";
import { assemblePlan } from "./planAssembly.js";
import { runPartition } from "./runtime/runPartition.js";
import type { ActionResult, BuiltJob, JobDefinition } from "./types.js";

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkJobName(kind: "job" | "app", name: unknown): void {
  if (typeof name !== "string" || !JOB_NAME.test(name)) {
    throw new JobDefinitionError(
      `${kind} name must be 1-128 letters, digits, ".", "_" or "-" (starting with a letter or digit), got ${JSON.stringify(name)}`,
    );
  }
}

export function job(name: string, build: (ctx: JobContext) => ActionResult): JobDefinition {
  checkJobName("job", name);
  if (typeof build !== "function") throw new JobDefinitionError(`job "${name}": the second argument must be a build function`);
  return {
    kind: "ballast-job",
    name,
    buildPlan(options) {
      if (!options || !Array.isArray(options.args) || typeof options.inputSize !== "function") {
        throw new JobDefinitionError(`job "${name}": buildPlan needs { args: string[], inputSize(uri) }`);
      }
      return buildJob(name, build, options.args, options.inputSize);
    },
  };
}

function buildJob(
  name: string,
  build: (ctx: JobContext) => ActionResult,
  args: string[],
  inputSize: (uri: string) => number,
): BuiltJob {
  const graph = new Graph(name);
  let returned: unknown;
  try {
    returned = build(new JobContext(graph, [...args], inputSize));
  } finally {
    graph.close();
  }
  const action = actionOf(graph, returned);
  const { plan, nodes } = assemblePlan(graph.jobName, action, [...args]);
  return {
    plan,
    runPartition: (task, io) => runPartition(plan, nodes, action, task, io),
  };
}

function actionOf(graph: Graph, returned: unknown): ActionSpec {
  if (typeof (returned as { then?: unknown } | undefined)?.then === "function") {
    throw new JobDefinitionError(`job "${graph.jobName}": the build function must be synchronous (it returned a Promise)`);
  }
  const action = graph.action;
  if (!action) {
    throw new JobDefinitionError(
      `job "${graph.jobName}": the build function must end with an action (collect, count or saveAsTextFile) and return its result`,
    );
  }
  // Forgetting `return` around the action is harmless; returning something else is not.
  if (returned !== undefined && returned !== action) {
    throw new JobDefinitionError(`job "${graph.jobName}": the build function must return the result of its action`);
  }
  return action;
}
