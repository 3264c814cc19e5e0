/**
 * The domain form of a job's plan: the lineage graph with partition counts and
 * shuffle dependencies. Produced by the SDK (packages/sdk), consumed by the
 * scheduler core and the executor. User functions are never in it: the
 * executor rebuilds the same graph from the bundle and checks graphHash.
 */
import { argsProblem, firstProblem, integerProblem, LIMITS, nameProblem } from "./limits.js";

export const ACTION_KINDS = ["collect", "count", "saveAsTextFile"] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export const STORAGE_LEVELS = ["memory", "disk", "memory_and_disk"] as const;
export type StorageLevel = (typeof STORAGE_LEVELS)[number];

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
  storageLevel?: StorageLevel;
  /** Persisted datasets: the dataset's key across the jobs of its application ("ds7"), the same in every replay of the program. */
  cacheKey?: string;
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
  /** Where the program calls the action ("explore.ts:12"); absent in plans of older clients. */
  callSite?: string;
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
 * core's job submission. Sizes are bounded by LIMITS, so a plan the scheduler
 * accepts cannot exhaust it, and nothing here recurses: a chain of any depth
 * is walked with an explicit queue.
 */
export function planProblem(plan: Plan, rules: PlanRules = {}): string | undefined {
  if (plan.datasets.length === 0) return "plan has no datasets";
  const sizeProblem = planSizeProblem(plan);
  if (sizeProblem) return sizeProblem;
  // Its job commit replaces everything under the prefix: an empty one would be the owner's whole space.
  if (/^staging:\/*$/.test(plan.outputUri)) return `a staging:// output needs a name to write under (staging://out), got ${JSON.stringify(plan.outputUri)}`;
  const byId = new Map<number, DatasetNode>();
  for (const dataset of plan.datasets) {
    if (byId.has(dataset.id)) return `dataset ${dataset.id} appears twice`;
    const problem = datasetProblem(dataset, rules);
    if (problem) return problem;
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
  return lineageProblem(plan);
}

function planSizeProblem(plan: Plan): string | undefined {
  if (plan.datasets.length > LIMITS.datasets) return `plan has ${plan.datasets.length} datasets; at most ${LIMITS.datasets} are allowed`;
  if (plan.shuffles.length > LIMITS.datasets) return `plan has ${plan.shuffles.length} shuffles; at most ${LIMITS.datasets} are allowed`;
  const partitions = plan.datasets.reduce((sum, d) => sum + (Number.isSafeInteger(d.numPartitions) ? d.numPartitions : 0), 0);
  if (partitions > LIMITS.planPartitions) return `plan has ${partitions} partitions in all; at most ${LIMITS.planPartitions} are allowed`;
  if (plan.inputs.length > LIMITS.inputs) return `plan has ${plan.inputs.length} input files; at most ${LIMITS.inputs} are allowed`;
  return firstProblem(
    argsProblem("the plan", plan.args),
    nameProblem("job name", plan.jobName),
    nameProblem("output URI", plan.outputUri, LIMITS.uriLength),
    integerProblem("final dataset id", plan.finalDatasetId, 0),
    ...plan.inputs.map((input) => nameProblem("input URI", input.uri, LIMITS.uriLength) ?? integerProblem("input size", input.size, 0)),
  );
}

function datasetProblem(dataset: DatasetNode, rules: PlanRules): string | undefined {
  const where = `dataset ${dataset.id}`;
  if (!Number.isInteger(dataset.numPartitions) || dataset.numPartitions < 0 || dataset.numPartitions > LIMITS.partitions) {
    return `${where} has an invalid partition count ${dataset.numPartitions} (at most ${LIMITS.partitions})`;
  }
  if (rules.builtBySdk && dataset.numPartitions === 0) return `${where} has no partitions`;
  if (dataset.parentIds.length > LIMITS.parents) return `${where} has ${dataset.parentIds.length} parents; at most ${LIMITS.parents} are allowed`;
  return firstProblem(
    integerProblem("dataset id", dataset.id, 0),
    nameProblem(`${where}: op`, dataset.op),
    nameProblem(`${where}: call site`, dataset.callSite),
    nameProblem(`${where}: uri`, dataset.uri, LIMITS.uriLength),
  );
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

/**
 * Cycles and depth at once (Kahn's algorithm): datasets are released once all
 * their parents are; what is never released lies on a cycle. A dataset's
 * depth is one more than its deepest parent's.
 */
function lineageProblem(plan: Plan): string | undefined {
  const waitingOn = new Map<number, number>();
  const childrenOf = new Map<number, number[]>();
  for (const dataset of plan.datasets) {
    const parents = new Set(dataset.parentIds);
    waitingOn.set(dataset.id, parents.size);
    for (const parent of parents) {
      const children = childrenOf.get(parent);
      if (children) children.push(dataset.id);
      else childrenOf.set(parent, [dataset.id]);
    }
  }
  const depth = new Map<number, number>();
  const ready = plan.datasets.filter((d) => waitingOn.get(d.id) === 0).map((d) => d.id);
  for (const id of ready) depth.set(id, 1);
  for (let next = 0; next < ready.length; next++) {
    const id = ready[next]!;
    const childDepth = depth.get(id)! + 1;
    for (const child of childrenOf.get(id) ?? []) {
      depth.set(child, Math.max(depth.get(child) ?? 0, childDepth));
      const left = waitingOn.get(child)! - 1;
      waitingOn.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  const onCycle = plan.datasets.find((d) => waitingOn.get(d.id)! > 0);
  if (onCycle) return `the lineage graph has a cycle through dataset ${onCycle.id}`;
  const deepest = Math.max(...depth.values());
  if (deepest > LIMITS.planDepth) return `the lineage graph is ${deepest} datasets deep; at most ${LIMITS.planDepth} are allowed`;
  return undefined;
}
