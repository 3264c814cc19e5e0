/**
 * The domain form of a job's plan: the lineage graph with partition counts and
 * shuffle dependencies. Produced by the SDK (packages/sdk), consumed by the
 * scheduler core and the executor. User functions are never in it: the
 * executor rebuilds the same graph from the bundle and checks graphHash.
 */
export type ActionKind = "collect" | "count" | "saveAsTextFile";

export interface DatasetNode {
  id: number;
  /** textFile, parallelize, range, map, flatMap, filter, mapPartitions, keyBy, union, reduceByKey, groupByKey, aggregateByKey, join, leftOuterJoin, distinct */
  op: string;
  parentIds: number[];
  numPartitions: number;
  /** True when this dataset reads its parents through shuffles (a wide op). */
  wide: boolean;
  /** "wordcount.ts:7", for progress and the UI. */
  callSite: string;
  /** textFile only: the source URI. */
  uri: string;
}

export interface ShuffleDependency {
  /** Position in Plan.shuffles; unique within the job. */
  shuffleIndex: number;
  /** The map side computes this dataset... */
  parentDatasetId: number;
  /** ...and the wide dataset reads it, one reduce partition per child partition. */
  childDatasetId: number;
  numReducePartitions: number;
}

export interface InputFile {
  uri: string;
  size: number;
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
}

/** Global id of a job's shuffle, as the shuffle service knows it. */
export function shuffleIdOf(jobId: string, shuffleIndex: number): string {
  return `${jobId}-sh${shuffleIndex}`;
}
