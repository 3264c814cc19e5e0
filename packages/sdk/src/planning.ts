/**
 * Plan-only helpers for hosts (scheduler, executor, tests): which shuffle
 * blocks a task reads. They use nothing but the Plan, so they can be copied
 * or imported without the job bundle.
 */
import type { DatasetNode, Plan } from "@ballast/common/plan";

export interface ShuffleRead {
  shuffleIndex: number;
  /** The reduce partition of that shuffle the task must fetch. */
  reducePartition: number;
}

/**
 * The shuffle blocks a task computing (datasetId, partition) reads. Narrow
 * ops map partition p of a dataset to partition p of its parent, except union
 * (partitions of its parents one after another), so a task reads ONE reduce
 * partition of each shuffle of the wide dataset its narrow lineage reaches;
 * [] when that lineage ends at a source, or at a partition `held` says the
 * task has at hand (a cached partition of a persisted dataset: nothing above
 * it is computed, so nothing above it is read).
 */
export function shuffleReadsOf(
  plan: Plan,
  datasetId: number,
  partition: number,
  held: (datasetId: number, partition: number) => boolean = () => false,
): ShuffleRead[] {
  let dataset = datasetOf(plan, datasetId);
  let p = partition;
  for (;;) {
    if (held(dataset.id, p)) return [];
    if (dataset.wide) {
      return plan.shuffles
        .filter((shuffle) => shuffle.childDatasetId === dataset.id)
        .map((shuffle) => ({ shuffleIndex: shuffle.shuffleIndex, reducePartition: p }));
    }
    if (dataset.parentIds.length === 0) return [];
    [dataset, p] = narrowParentOf(plan, dataset, p);
  }
}

function narrowParentOf(plan: Plan, dataset: DatasetNode, partition: number): [DatasetNode, number] {
  let offset = 0;
  for (const parentId of dataset.parentIds) {
    const parent = datasetOf(plan, parentId);
    if (dataset.op !== "union") return [parent, partition];
    if (partition < offset + parent.numPartitions) return [parent, partition - offset];
    offset += parent.numPartitions;
  }
  throw new Error(`dataset ${dataset.id} has no partition ${partition}`);
}

function datasetOf(plan: Plan, id: number): DatasetNode {
  const dataset = plan.datasets[id];
  if (!dataset || dataset.id !== id) throw new Error(`plan has no dataset ${id}`);
  return dataset;
}
