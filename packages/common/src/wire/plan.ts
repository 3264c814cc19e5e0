// Wire <-> domain conversion of plans and the shared enums, used at every edge.
import { ActionKind as WireAction, JobStatus as WireJobStatus, StageStatus as WireStageStatus, TaskState as WireTaskState, type Plan as WirePlan } from "@ballast/gen/common";
import { InvalidArgumentError } from "../errors.js";
import type { ActionKind, Plan } from "../plan.js";

const ACTIONS: Array<[ActionKind, WireAction]> = [
  ["collect", WireAction.ACTION_KIND_COLLECT],
  ["count", WireAction.ACTION_KIND_COUNT],
  ["saveAsTextFile", WireAction.ACTION_KIND_SAVE_AS_TEXT_FILE],
];

/** Builds a two-way mapping between a domain string union and a wire enum. */
function enumMapping<D extends string, W extends number>(pairs: Array<[D, W]>, what: string) {
  const toWire = new Map(pairs);
  const fromWire = new Map(pairs.map(([d, w]) => [w, d]));
  return {
    toWire: (d: D): W => toWire.get(d)!,
    fromWire: (w: W): D => {
      const d = fromWire.get(w);
      if (d === undefined) throw new InvalidArgumentError(`unknown ${what}: ${w}`);
      return d;
    },
  };
}

export const actionKind = enumMapping(ACTIONS, "action kind");
export const jobStatus = enumMapping<"running" | "succeeded" | "failed" | "cancelled", WireJobStatus>(
  [
    ["running", WireJobStatus.JOB_STATUS_RUNNING],
    ["succeeded", WireJobStatus.JOB_STATUS_SUCCEEDED],
    ["failed", WireJobStatus.JOB_STATUS_FAILED],
    ["cancelled", WireJobStatus.JOB_STATUS_CANCELLED],
  ],
  "job status",
);
export const stageStatus = enumMapping<"waiting" | "running" | "succeeded" | "failed", WireStageStatus>(
  [
    ["waiting", WireStageStatus.STAGE_STATUS_WAITING],
    ["running", WireStageStatus.STAGE_STATUS_RUNNING],
    ["succeeded", WireStageStatus.STAGE_STATUS_SUCCEEDED],
    ["failed", WireStageStatus.STAGE_STATUS_FAILED],
  ],
  "stage status",
);
export const taskState = enumMapping<"running" | "succeeded" | "failed" | "killed", WireTaskState>(
  [
    ["running", WireTaskState.TASK_STATE_RUNNING],
    ["succeeded", WireTaskState.TASK_STATE_SUCCEEDED],
    ["failed", WireTaskState.TASK_STATE_FAILED],
    ["killed", WireTaskState.TASK_STATE_KILLED],
  ],
  "task state",
);

export function planToWire(plan: Plan): WirePlan {
  return { ...plan, action: actionKind.toWire(plan.action) };
}

/** Converts and validates a plan from the wire; a malformed plan is INVALID_ARGUMENT. */
export function planFromWire(wire: WirePlan | undefined): Plan {
  if (!wire) throw new InvalidArgumentError("plan is required");
  if (wire.datasets.length === 0) throw new InvalidArgumentError("plan has no datasets");
  const ids = new Set(wire.datasets.map((d) => d.id));
  for (const d of wire.datasets) {
    if (d.numPartitions < 1) throw new InvalidArgumentError(`dataset ${d.id} has no partitions`);
    for (const p of d.parentIds) if (!ids.has(p)) throw new InvalidArgumentError(`dataset ${d.id} names unknown parent ${p}`);
  }
  if (!ids.has(wire.finalDatasetId)) throw new InvalidArgumentError(`plan's final dataset ${wire.finalDatasetId} does not exist`);
  for (const s of wire.shuffles) {
    if (!ids.has(s.parentDatasetId) || !ids.has(s.childDatasetId)) throw new InvalidArgumentError(`shuffle ${s.shuffleIndex} names an unknown dataset`);
  }
  if (!wire.graphHash) throw new InvalidArgumentError("plan has no graph hash");
  return {
    jobName: wire.jobName,
    datasets: wire.datasets.map((d) => ({ ...d, parentIds: [...d.parentIds] })),
    shuffles: wire.shuffles.map((s) => ({ ...s })),
    finalDatasetId: wire.finalDatasetId,
    action: actionKind.fromWire(wire.action),
    outputUri: wire.outputUri,
    args: [...wire.args],
    inputs: wire.inputs.map((i) => ({ ...i })),
    graphHash: wire.graphHash,
  };
}
