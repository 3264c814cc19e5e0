/**
 * Turns a built graph into the Plan: the datasets the action depends on (ids
 * in creation order), one shuffle per (wide dataset, parent), the inputs and
 * a graph hash that changes whenever the graph does.
 */
import { createHash } from "node:crypto";
import type { ActionSpec, Node } from "./graph.js";
import { withCallSite } from "./callSite.js";
import { cacheKeyOf } from "./runtime/persisted.js";
import type { DatasetNode, DriverPosition, InputFile, Plan, ShuffleDependency } from "@ballast/common/plan";

export function assemblePlan(
  jobName: string,
  action: ActionSpec,
  args: string[],
  driver?: DriverPosition,
): { plan: Plan; nodes: Node[] } {
  const nodes = reachableFrom(action.node);
  nodes.forEach((node, id) => (node.id = id));
  const shuffles = shufflesOf(nodes);
  const inputs = inputsOf(nodes);
  const datasets: DatasetNode[] = nodes.map((node) =>
    withCallSite(
      {
        id: node.id,
        op: node.op,
        parentIds: node.parents.map((parent) => parent.id),
        numPartitions: node.numPartitions,
        wide: node.wide !== undefined,
        uri: node.uri,
        ...(node.storageLevel !== "none" && { storageLevel: node.storageLevel, cacheKey: cacheKeyOf(node) }),
      },
      () => node.callSite,
    ),
  );
  const plan: Plan = {
    jobName,
    datasets,
    shuffles,
    finalDatasetId: action.node.id,
    action: action.action,
    outputUri: action.outputUri,
    args,
    inputs,
    graphHash: "",
    ...(driver && { driver }),
  };
  plan.graphHash = graphHashOf(plan, nodes);
  return { plan, nodes };
}

/** Every node the action depends on, in creation order. */
function reachableFrom(root: Node): Node[] {
  const seen = new Set<Node>();
  const pending = [root];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    pending.push(...node.parents);
  }
  return [...seen].sort((a, b) => a.seq - b.seq);
}

function shufflesOf(nodes: Node[]): ShuffleDependency[] {
  const shuffles: ShuffleDependency[] = [];
  for (const node of nodes) {
    if (!node.wide) continue;
    node.shuffleIndices = node.parents.map((parent) => {
      shuffles.push({
        shuffleIndex: shuffles.length,
        parentDatasetId: parent.id,
        childDatasetId: node.id,
        numReducePartitions: node.numPartitions,
        ...(node.wide!.sortKeyOf ? { rangePartitioned: true } : {}),
      });
      return shuffles.length - 1;
    });
  }
  return shuffles;
}

function inputsOf(nodes: Node[]): InputFile[] {
  const sizes = new Map<string, number>();
  for (const node of nodes) {
    if (node.op === "textFile" && !sizes.has(node.uri)) sizes.set(node.uri, node.inputSize);
  }
  return [...sizes].map(([uri, size]) => ({ uri, size }));
}

/**
 * sha256 over a canonical JSON of the plan (without graphHash, and without
 * callSite, which depends on source maps) plus fingerprints of parallelized
 * data, so an executor whose rebuilt graph or data differs is detected.
 */
function graphHashOf(plan: Plan, nodes: Node[]): string {
  const canonical = {
    jobName: plan.jobName,
    datasets: plan.datasets.map(withoutCallSite),
    shuffles: plan.shuffles,
    finalDatasetId: plan.finalDatasetId,
    action: plan.action,
    outputUri: plan.outputUri,
    args: plan.args,
    inputs: plan.inputs,
    // The action's call site, like datasets', depends on source maps: it is not part of the graph.
    ...(plan.driver && { driver: { actionIndex: plan.driver.actionIndex, recordedResults: plan.driver.recordedResults } }),
    data: nodes.map((node) => node.fingerprint?.() ?? ""),
  };
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/** The dataset's other fields, in order, without reading its call site (which would format it). */
function withoutCallSite(dataset: DatasetNode): Omit<DatasetNode, "callSite"> {
  const fields = Object.keys(dataset).filter((name) => name !== "callSite") as Array<keyof DatasetNode>;
  return Object.fromEntries(fields.map((name) => [name, dataset[name]])) as Omit<DatasetNode, "callSite">;
}
