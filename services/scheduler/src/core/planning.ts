/**
 * Splits a plan's lineage graph into stages at its shuffle dependencies.
 * Pure functions over the plan; no state.
 */
import type { DatasetNode, ShuffleDependency } from "@ballast/common/plan";
import type { Plan } from "./types.js";

export interface StagePlan {
  stageId: number;
  datasetId: number;
  name: string;
  numPartitions: number;
  parentStageIds: number[];
  /** Shuffle indexes read by the stage's pipeline, ascending. */
  shuffleReads: number[];
  /** Map stages: the shuffle index written; undefined for the result stage. */
  shuffleWrite?: number;
}

/** Why a plan cannot be scheduled, or undefined when it is well formed. */
export function planProblem(plan: Plan): string | undefined {
  const byId = new Map<number, DatasetNode>();
  for (const dataset of plan.datasets) {
    if (byId.has(dataset.id)) return `dataset ${dataset.id} appears twice`;
    if (!Number.isInteger(dataset.numPartitions) || dataset.numPartitions < 0) {
      return `dataset ${dataset.id} has an invalid partition count ${dataset.numPartitions}`;
    }
    byId.set(dataset.id, dataset);
  }
  if (!byId.has(plan.finalDatasetId)) return `final dataset ${plan.finalDatasetId} is not in the plan`;
  for (const dataset of plan.datasets) {
    const missing = dataset.parentIds.find((id) => !byId.has(id));
    if (missing !== undefined) return `dataset ${dataset.id} has unknown parent ${missing}`;
  }
  for (const [position, shuffle] of plan.shuffles.entries()) {
    if (shuffle.shuffleIndex !== position) return `shuffle at position ${position} has index ${shuffle.shuffleIndex}`;
    const child = byId.get(shuffle.childDatasetId);
    if (!byId.has(shuffle.parentDatasetId) || !child) return `shuffle ${position} names an unknown dataset`;
    if (!child.parentIds.includes(shuffle.parentDatasetId)) {
      return `shuffle ${position}: dataset ${shuffle.parentDatasetId} is not a parent of ${shuffle.childDatasetId}`;
    }
    if (shuffle.numReducePartitions !== child.numPartitions) {
      return `shuffle ${position} has ${shuffle.numReducePartitions} reduce partitions but dataset ${child.id} has ${child.numPartitions}`;
    }
  }
  return findCycle(plan, byId);
}

function findCycle(plan: Plan, byId: Map<number, DatasetNode>): string | undefined {
  const state = new Map<number, "visiting" | "done">();
  const visit = (id: number): string | undefined => {
    const seen = state.get(id);
    if (seen === "done") return undefined;
    if (seen === "visiting") return `the lineage graph has a cycle through dataset ${id}`;
    state.set(id, "visiting");
    for (const parent of byId.get(id)!.parentIds) {
      const problem = visit(parent);
      if (problem) return problem;
    }
    state.set(id, "done");
    return undefined;
  };
  return visit(plan.finalDatasetId);
}

/**
 * Stages in dependency order (parents before children, ids 0..n-1); the last
 * one is the result stage. Assumes planProblem(plan) is undefined.
 */
export function planStages(plan: Plan): StagePlan[] {
  const byId = new Map(plan.datasets.map((dataset) => [dataset.id, dataset]));
  const shufflesByChild = new Map<number, ShuffleDependency[]>();
  for (const shuffle of plan.shuffles) {
    const list = shufflesByChild.get(shuffle.childDatasetId) ?? [];
    list.push(shuffle);
    shufflesByChild.set(shuffle.childDatasetId, list);
  }
  const stages: StagePlan[] = [];
  const mapStageOfShuffle = new Map<number, number>();

  const buildStage = (datasetId: number, shuffleWrite?: number): number => {
    const shuffleReads = pipelineShuffleReads(datasetId, byId, shufflesByChild);
    const parentStageIds = shuffleReads.map((index) => {
      const known = mapStageOfShuffle.get(index);
      if (known !== undefined) return known;
      const created = buildStage(plan.shuffles[index]!.parentDatasetId, index);
      mapStageOfShuffle.set(index, created);
      return created;
    });
    const dataset = byId.get(datasetId)!;
    const stageId = stages.length;
    stages.push({
      stageId,
      datasetId,
      name: `${dataset.op} at ${dataset.callSite}`,
      numPartitions: dataset.numPartitions,
      parentStageIds: [...new Set(parentStageIds)],
      shuffleReads,
      shuffleWrite,
    });
    return stageId;
  };
  buildStage(plan.finalDatasetId);
  return stages;
}

/**
 * The shuffles a stage computing `datasetId` reads: walk narrow parents,
 * stop at parents reached through a shuffle dependency.
 */
function pipelineShuffleReads(
  datasetId: number,
  byId: Map<number, DatasetNode>,
  shufflesByChild: Map<number, ShuffleDependency[]>,
): number[] {
  const reads = new Set<number>();
  const visited = new Set<number>();
  const pending = [datasetId];
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (visited.has(id)) continue;
    visited.add(id);
    const shuffles = shufflesByChild.get(id) ?? [];
    for (const shuffle of shuffles) reads.add(shuffle.shuffleIndex);
    const shuffledParents = new Set(shuffles.map((shuffle) => shuffle.parentDatasetId));
    for (const parent of byId.get(id)!.parentIds) {
      if (!shuffledParents.has(parent)) pending.push(parent);
    }
  }
  return [...reads].sort((a, b) => a - b);
}
