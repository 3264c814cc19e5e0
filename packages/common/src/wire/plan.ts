// Wire <-> domain conversion of plans.
import { ActionKind as WireAction, type Plan as WirePlan } from "@ballast/gen/common";
import { InvalidArgumentError } from "../errors.js";
import { ACTION_KINDS, planProblem, STORAGE_LEVELS, type DatasetNode, type Plan } from "../plan.js";
import { enumMapping } from "./enums.js";

export const actionKind = enumMapping(WireAction, "ACTION_KIND_", ACTION_KINDS);

export function planToWire(plan: Plan): WirePlan {
  const shuffles = plan.shuffles.map((shuffle) => ({ ...shuffle, rangePartitioned: shuffle.rangePartitioned ?? false }));
  const datasets = plan.datasets.map((dataset) => ({ ...dataset, storageLevel: dataset.storageLevel ?? "", cacheKey: dataset.cacheKey ?? "" }));
  const inputs = plan.inputs.map((input) => ({ uri: input.uri, size: input.size, sha256: input.sha256 ?? "" }));
  return { ...plan, datasets, shuffles, inputs, action: actionKind.toWire(plan.action), driver: plan.driver && { ...plan.driver, callSite: plan.driver.callSite ?? "" } };
}

/** Converts and validates a plan from the wire (a client's or a launch's); a malformed plan is INVALID_ARGUMENT. */
export function planFromWire(wire: WirePlan | undefined): Plan {
  if (!wire) throw new InvalidArgumentError("plan is required");
  const plan: Plan = {
    jobName: wire.jobName,
    datasets: wire.datasets.map(datasetFromWire),
    // Hash partitioning stays implicit, so plans without a sort keep their shape (and graph hash).
    shuffles: wire.shuffles.map(({ rangePartitioned, ...s }) => (rangePartitioned ? { ...s, rangePartitioned } : s)),
    finalDatasetId: wire.finalDatasetId,
    action: actionKind.fromWire(wire.action),
    outputUri: wire.outputUri,
    args: [...wire.args],
    inputs: wire.inputs.map(({ sha256, ...input }) => (sha256 ? { ...input, sha256 } : input)),
    graphHash: wire.graphHash,
    ...(wire.driver && { driver: driverFromWire(wire.driver) }),
  };
  const problem = planProblem(plan, { builtBySdk: true });
  if (problem) throw new InvalidArgumentError(problem);
  return plan;
}

function driverFromWire({ actionIndex, recordedResults, callSite }: NonNullable<WirePlan["driver"]>): NonNullable<Plan["driver"]> {
  return { actionIndex, recordedResults, ...(callSite && { callSite }) };
}

/** Persistence stays implicit for datasets that are not persisted, so their plans keep their shape. */
function datasetFromWire({ storageLevel, cacheKey, ...wire }: WirePlan["datasets"][number]): DatasetNode {
  const dataset: DatasetNode = { ...wire, parentIds: [...wire.parentIds] };
  if (storageLevel) {
    if (!(STORAGE_LEVELS as readonly string[]).includes(storageLevel)) throw new InvalidArgumentError(`dataset ${wire.id} has an unknown storage level "${storageLevel}"`);
    dataset.storageLevel = storageLevel as NonNullable<DatasetNode["storageLevel"]>;
  }
  if (cacheKey) dataset.cacheKey = cacheKey;
  return dataset;
}
