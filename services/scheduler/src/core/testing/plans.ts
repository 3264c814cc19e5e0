/** Plan builders for the core's tests and simulation. */
import type { DatasetNode, ShuffleDependency } from "@ballast/common/plan";
import type { ActionKind, Plan } from "../types.js";

export function dataset(id: number, op: string, parentIds: number[], numPartitions: number, wide = false): DatasetNode {
  return { id, op, parentIds, numPartitions, wide, callSite: `job.ts:${id + 1}`, uri: op === "textFile" ? "file:///in.txt" : "" };
}

export function planOf(datasets: DatasetNode[], shuffles: ShuffleDependency[], finalDatasetId: number, action: ActionKind = "collect"): Plan {
  return {
    jobName: "test-job",
    datasets,
    shuffles,
    finalDatasetId,
    action,
    outputUri: action === "saveAsTextFile" ? "file:///out" : "",
    args: [],
    inputs: [],
    graphHash: "hash",
  };
}

/**
 * textFile(maps) -> flatMap -> reduceByKey(mids) -> map -> groupByKey(results) -> action.
 * Stages: 0 = map stage of shuffle 0 (`maps` tasks), 1 = map stage of shuffle 1
 * (`mids` tasks), 2 = result stage (`results` tasks).
 */
export function threeStagePlan(maps = 4, mids = 3, results = 2, action: ActionKind = "collect"): Plan {
  return planOf(
    [
      dataset(0, "textFile", [], maps),
      dataset(1, "flatMap", [0], maps),
      dataset(2, "reduceByKey", [1], mids, true),
      dataset(3, "map", [2], mids),
      dataset(4, "groupByKey", [3], results, true),
    ],
    [
      { shuffleIndex: 0, parentDatasetId: 1, childDatasetId: 2, numReducePartitions: mids },
      { shuffleIndex: 1, parentDatasetId: 3, childDatasetId: 4, numReducePartitions: results },
    ],
    4,
    action,
  );
}

/** range(maps) -> map -> reduceByKey(results) -> action: stage 0 maps, stage 1 results. */
export function twoStagePlan(maps: number, results: number, action: ActionKind = "collect"): Plan {
  return planOf(
    [dataset(0, "range", [], maps), dataset(1, "map", [0], maps), dataset(2, "reduceByKey", [1], results, true)],
    [{ shuffleIndex: 0, parentDatasetId: 1, childDatasetId: 2, numReducePartitions: results }],
    2,
    action,
  );
}

/** One stage, no shuffle: parallelize(partitions) -> map -> action. */
export function singleStagePlan(partitions: number, action: ActionKind = "collect"): Plan {
  return planOf([dataset(0, "parallelize", [], partitions), dataset(1, "map", [0], partitions)], [], 1, action);
}

/** Two sources shuffled into a join: stages 0 and 1 are map stages, 2 the result. */
export function joinPlan(leftMaps = 3, rightMaps = 2, results = 2): Plan {
  return planOf(
    [
      dataset(0, "textFile", [], leftMaps),
      dataset(1, "keyBy", [0], leftMaps),
      dataset(2, "range", [], rightMaps),
      dataset(3, "map", [2], rightMaps),
      dataset(4, "join", [1, 3], results, true),
      dataset(5, "map", [4], results),
    ],
    [
      { shuffleIndex: 0, parentDatasetId: 1, childDatasetId: 4, numReducePartitions: results },
      { shuffleIndex: 1, parentDatasetId: 3, childDatasetId: 4, numReducePartitions: results },
    ],
    5,
  );
}

/**
 * A diamond: range -> map -> reduceByKey (shuffle 0, stage 0), whose result
 * feeds two branches (map, filter) that are joined (shuffles 1 and 2): stages
 * 1 and 2 both read shuffle 0 and run at the same time; stage 3 is the result.
 */
export function diamondPlan(maps = 3, middle = 3, results = 2): Plan {
  return planOf(
    [
      dataset(0, "range", [], maps),
      dataset(1, "map", [0], maps),
      dataset(2, "reduceByKey", [1], middle, true),
      dataset(3, "map", [2], middle),
      dataset(4, "filter", [2], middle),
      dataset(5, "join", [3, 4], results, true),
    ],
    [
      { shuffleIndex: 0, parentDatasetId: 1, childDatasetId: 2, numReducePartitions: middle },
      { shuffleIndex: 1, parentDatasetId: 3, childDatasetId: 5, numReducePartitions: results },
      { shuffleIndex: 2, parentDatasetId: 4, childDatasetId: 5, numReducePartitions: results },
    ],
    5,
  );
}

/**
 * textFile(maps) -> map -> reduceByKey(mids) -> sortByKey(results) -> action:
 * stage 0 writes shuffle 0 (hash), stage 1 samples dataset 2 for shuffle 1,
 * stage 2 writes shuffle 1 (range partitioned), stage 3 is the result.
 */
export function sortPlan(maps = 3, mids = 4, results = 2, action: ActionKind = "saveAsTextFile"): Plan {
  return planOf(
    [
      dataset(0, "textFile", [], maps),
      dataset(1, "map", [0], maps),
      dataset(2, "reduceByKey", [1], mids, true),
      dataset(3, "sortByKey", [2], results, true),
    ],
    [
      { shuffleIndex: 0, parentDatasetId: 1, childDatasetId: 2, numReducePartitions: mids },
      { shuffleIndex: 1, parentDatasetId: 2, childDatasetId: 3, numReducePartitions: results, rangePartitioned: true },
    ],
    3,
    action,
  );
}
