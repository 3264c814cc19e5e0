/**
 * The domain form of a job's plan: the lineage graph with partition counts and
 * shuffle dependencies. Produced by the SDK (packages/sdk), consumed by the
 * scheduler core and the executor. User functions are never in it: the
 * executor rebuilds the same graph from the bundle and checks graphHash.
 */
export const ACTION_KINDS = ["collect", "count", "saveAsTextFile"] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface DatasetNode {
  id: number;
  /** textFile, parallelize, range, map, flatMap, filter, mapPartitions, keyBy, union, reduceByKey, groupByKey, aggregateByKey, join, leftOuterJoin, distinct, sortBy, sortByKey */
  op: string;
  parentIds: number[];
  numPartitions: number;
  /** True when this dataset reads its parents through shuffles (a wide op). */
  wide: boolean;
  /** "wordcount.ts:7", for progress and the UI. */
  callSite: string;
  /** textFile only: the source URI. */
  uri: string;
  /** Set when the program persisted the dataset: its partitions are kept for the application's later jobs. */
  storageLevel?: "memory" | "disk" | "memory_and_disk";
}

export interface ShuffleDependency {
  /** Position in Plan.shuffles; unique within the job. */
  shuffleIndex: number;
  /** The map side computes this dataset... */
  parentDatasetId: number;
  /** ...and the wide dataset reads it, one reduce partition per child partition. */
  childDatasetId: number;
  numReducePartitions: number;
  /**
   * Partitioned by key ranges (sortBy, sortByKey) instead of key hash: the
   * scheduler runs a sample stage over the parent first and hands its result
   * to every map task, which derives the range bounds from it. Absent: hash.
   */
  rangePartitioned?: boolean;
}

export interface InputFile {
  uri: string;
  size: number;
  /** staging:// inputs: pinned at submit, so the job reads exactly the bytes it was submitted with. */
  sha256?: string;
}

export interface Plan {
  jobName: string;
  datasets: DatasetNode[];
  shuffles: ShuffleDependency[];
  finalDatasetId: number;
  action: ActionKind;
  /** saveAsTextFile only. */
  outputUri: string;
  args: string[];
  inputs: InputFile[];
  graphHash: string;
  /** Jobs of an application: which action of the driver program this is, so executors can replay the program to it. */
  driver?: DriverPosition;
}

/**
 * An action's place in its driver program. Executors rebuild action N's graph
 * by running the program again, with actions 0..N-1 answered from
 * recordedResults instead of run: closures that capture earlier results see
 * the same values, and user functions are never serialized.
 */
export interface DriverPosition {
  actionIndex: number;
  /** The raw results of the actions before it, msgpack, base64. */
  recordedResults: string;
}

/** Global id of a job's shuffle, as the shuffle service knows it. */
export function shuffleIdOf(jobId: string, shuffleIndex: number): string {
  return `${jobId}-sh${shuffleIndex}`;
}

// -------------------------------------------------------------- validation

export interface PlanRules {
  /**
   * The plan crossed the wire, so the SDK built it: it names the graph hash
   * (the executor checks the bundle against it) and gives every dataset a
   * partition. The scheduler core also runs hand-built plans (tests,
   * simulation), where an empty dataset is a job that ends at once.
   */
  builtBySdk?: boolean;
}

/**
 * Why a plan cannot be scheduled, or undefined when it is well formed: the
 * one validator behind both the wire edge (planFromWire) and the scheduler
 * core's job submission.
 */
export function planProblem(plan: Plan, rules: PlanRules = {}): string | undefined {
  if (plan.datasets.length === 0) return "plan has no datasets";
  const byId = new Map<number, DatasetNode>();
  for (const dataset of plan.datasets) {
    if (byId.has(dataset.id)) return `dataset ${dataset.id} appears twice`;
    if (!Number.isInteger(dataset.numPartitions) || dataset.numPartitions < 0) {
      return `dataset ${dataset.id} has an invalid partition count ${dataset.numPartitions}`;
    }
    if (rules.builtBySdk && dataset.numPartitions === 0) return `dataset ${dataset.id} has no partitions`;
    byId.set(dataset.id, dataset);
  }
  if (!byId.has(plan.finalDatasetId)) return `final dataset ${plan.finalDatasetId} is not in the plan`;
  for (const dataset of plan.datasets) {
    const missing = dataset.parentIds.find((id) => !byId.has(id));
    if (missing !== undefined) return `dataset ${dataset.id} has unknown parent ${missing}`;
  }
  const shuffleProblem = shufflesProblem(plan, byId);
  if (shuffleProblem) return shuffleProblem;
  if (rules.builtBySdk && !plan.graphHash) return "plan has no graph hash";
  return findCycle(plan, byId);
}

function shufflesProblem(plan: Plan, byId: Map<number, DatasetNode>): string | undefined {
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
  return undefined;
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
