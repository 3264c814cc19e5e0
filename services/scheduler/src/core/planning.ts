/**
 * Splits a plan's lineage graph into stages at its shuffle dependencies.
 * Pure functions over the plan; no state. Whether a plan is well formed is
 * decided by the one validator, planProblem in @ballast/common/plan, which
 * the core runs with its default rules (hand-built plans allowed).
 */
import type { DatasetNode, ShuffleDependency } from "@ballast/common/plan";
import type { Plan } from "./types.js";

export { planProblem } from "@ballast/common/plan";

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
  /**
   * Sample stages: the range-partitioned shuffle whose key sample they
   * collect. A sample stage computes the same dataset as that shuffle's map
   * stage and is its parent, so its recorded result (kept like a result
   * stage's, never lost with a node) is in every launch of the map stage.
   */
  sampleFor?: number;
}

/**
 * Stages in dependency order (parents before children, ids 0..n-1); the last
 * one is the result stage. A range-partitioned shuffle's map stage comes
 * right after its sample stage. Assumes planProblem(plan) is undefined.
 * Cached datasets change nothing here: the stages below them are planned and
 * skipped while the cache holds them (cachedStages.ts).
 */
export function planStages(plan: Plan): StagePlan[] {
  const byId = new Map(plan.datasets.map((dataset) => [dataset.id, dataset]));
  const shufflesByChild = shufflesByChildOf(plan);
  const stages: StagePlan[] = [];
  const mapStageOfShuffle = new Map<number, number>();

  const addStages = (frame: StageFrame): number => {
    const { datasetId, shuffleWrite, shuffleReads } = frame;
    const dataset = byId.get(datasetId)!;
    const uniqueParents = [...new Set(frame.parentStageIds)];
    const base = { datasetId, numPartitions: dataset.numPartitions, shuffleReads };
    if (shuffleWrite !== undefined && plan.shuffles[shuffleWrite]!.rangePartitioned) {
      const sorted = byId.get(plan.shuffles[shuffleWrite]!.childDatasetId)!;
      const name = `sample for ${sorted.op} at ${sorted.callSite}`;
      stages.push({ ...base, stageId: stages.length, name, parentStageIds: [...uniqueParents], sampleFor: shuffleWrite });
      uniqueParents.push(stages.length - 1);
    }
    const stageId = stages.length;
    stages.push({ ...base, stageId, name: `${dataset.op} at ${dataset.callSite}`, parentStageIds: uniqueParents, shuffleWrite });
    return stageId;
  };
  const frameOf = (datasetId: number, shuffleWrite?: number): StageFrame => ({
    datasetId,
    shuffleWrite,
    shuffleReads: pipelineShuffleReads(datasetId, byId, shufflesByChild),
    parentStageIds: [],
  });

  // Depth first, parents before children, with an explicit stack: a plan thousands of shuffles deep cannot overflow it.
  const pending = [frameOf(plan.finalDatasetId)];
  while (pending.length > 0) {
    const frame = pending[pending.length - 1]!;
    const index = frame.shuffleReads[frame.parentStageIds.length];
    if (index === undefined) {
      pending.pop();
      const stageId = addStages(frame);
      const child = pending[pending.length - 1];
      if (child) {
        mapStageOfShuffle.set(frame.shuffleWrite!, stageId);
        child.parentStageIds.push(stageId);
      }
      continue;
    }
    const known = mapStageOfShuffle.get(index);
    if (known !== undefined) frame.parentStageIds.push(known);
    else pending.push(frameOf(plan.shuffles[index]!.parentDatasetId, index));
  }
  return stages;
}

/** A stage being built: the map stages of its shuffle reads come first, one per read, in order. */
interface StageFrame {
  datasetId: number;
  shuffleWrite?: number;
  shuffleReads: number[];
  parentStageIds: number[];
}

/** The shuffles a stage computing `datasetId` reads: those its pipeline's datasets read. */
function pipelineShuffleReads(datasetId: number, byId: Map<number, DatasetNode>, shufflesByChild: Map<number, ShuffleDependency[]>): number[] {
  const reads = new Set<number>();
  for (const dataset of walkPipeline(datasetId, byId, shufflesByChild, () => false)) {
    for (const shuffle of shufflesByChild.get(dataset.id) ?? []) reads.add(shuffle.shuffleIndex);
  }
  return [...reads].sort((a, b) => a - b);
}

/**
 * The datasets a task computing `datasetId` runs through: it and the parents
 * it reaches by narrow dependencies (a parent reached through a shuffle is
 * another stage's). The walk lists, but does not go past, a dataset `stop`
 * holds for.
 */
export function pipelineDatasets(plan: Plan, datasetId: number, stop: (datasetId: number) => boolean = () => false): DatasetNode[] {
  return walkPipeline(datasetId, new Map(plan.datasets.map((dataset) => [dataset.id, dataset])), shufflesByChildOf(plan), stop);
}

function shufflesByChildOf(plan: Plan): Map<number, ShuffleDependency[]> {
  const shufflesByChild = new Map<number, ShuffleDependency[]>();
  for (const shuffle of plan.shuffles) {
    const list = shufflesByChild.get(shuffle.childDatasetId) ?? [];
    list.push(shuffle);
    shufflesByChild.set(shuffle.childDatasetId, list);
  }
  return shufflesByChild;
}

function walkPipeline(datasetId: number, byId: Map<number, DatasetNode>, shufflesByChild: Map<number, ShuffleDependency[]>, stop: (datasetId: number) => boolean): DatasetNode[] {
  const found: DatasetNode[] = [];
  const visited = new Set<number>();
  const pending = [datasetId];
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (visited.has(id)) continue;
    visited.add(id);
    const dataset = byId.get(id)!;
    found.push(dataset);
    if (stop(id)) continue;
    const shuffledParents = new Set((shufflesByChild.get(id) ?? []).map((shuffle) => shuffle.parentDatasetId));
    for (const parent of dataset.parentIds) if (!shuffledParents.has(parent)) pending.push(parent);
  }
  return found;
}
