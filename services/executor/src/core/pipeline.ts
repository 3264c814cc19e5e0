import type { Plan } from "@ballast/common/plan";

/**
 * The input URIs a task of `datasetId` reads: textFile datasets reachable
 * through narrow dependencies (a wide dataset reads shuffles, not its parents).
 */
export function inputUrisOfPipeline(plan: Plan, datasetId: number): string[] {
  const byId = new Map(plan.datasets.map((d) => [d.id, d]));
  const uris = new Set<string>();
  const visited = new Set<number>();
  const stack = [datasetId];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (visited.has(id)) continue;
    visited.add(id);
    const dataset = byId.get(id);
    if (!dataset) continue;
    if (dataset.op === "textFile" && dataset.uri) uris.add(dataset.uri);
    if (!dataset.wide) stack.push(...dataset.parentIds);
  }
  return [...uris];
}

/** The size of an input recorded at submit time, so every executor splits files identically. */
export function inputSizeOf(plan: Plan, uri: string): number {
  const input = plan.inputs.find((i) => i.uri === uri);
  if (!input) throw new Error(`input ${uri} is not listed in the plan's inputs`);
  return input.size;
}
