import { describe, expect, it } from "vitest";
import type { Plan } from "@ballast/common/plan";
import { prepareTransfer } from "../tasks/protocol.js";
import { backoffDelay } from "@ballast/common/backoff";
import { groupBlocksByAddress, missingLocations } from "./fetchPlan.js";
import { inputUrisOfPipeline } from "./pipeline.js";
import { trimStack } from "./stack.js";
import { partFileName } from "./task.js";

describe("backoffDelay", () => {
  const policy = { initialMs: 500, maxMs: 10_000 };
  it("doubles from the initial wait, with jitter between half and all of it", () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(250);
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(500);
    expect(backoffDelay(3, policy, () => 0)).toBe(1000);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(2000);
  });
  it("is capped by the maximum", () => {
    expect(backoffDelay(30, policy, () => 0.999999)).toBe(10_000);
  });
});

describe("trimStack", () => {
  it("keeps the user's and the SDK's frames and drops the executor's and Node's", () => {
    const stack = [
      "Error: boom",
      "    at check (/tmp/job.ts:4:11)",
      "    at runPartition (/repo/packages/sdk/src/runtime/runPartition.ts:27:10)",
      "    at runTask (file:///repo/services/executor/src/tasks/worker.ts:90:20)",
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    ].join("\n");
    expect(trimStack(stack, ["/repo/services/executor/src/"]).split("\n")).toEqual([
      "Error: boom",
      "    at check (/tmp/job.ts:4:11)",
      "    at runPartition (/repo/packages/sdk/src/runtime/runPartition.ts:27:10)",
    ]);
  });
});

function dataset(id: number, op: string, parentIds: number[], wide = false, uri = "") {
  return { id, op, parentIds, numPartitions: 2, wide, callSite: "", uri };
}

describe("inputUrisOfPipeline", () => {
  it("follows narrow dependencies and stops at shuffles", () => {
    const plan = {
      datasets: [
        dataset(0, "textFile", [], false, "file:///a"),
        dataset(1, "textFile", [], false, "staging://b"),
        dataset(2, "union", [0, 1]),
        dataset(3, "reduceByKey", [2], true),
        dataset(4, "textFile", [], false, "file:///c"),
        dataset(5, "join", [3, 4], true),
        dataset(6, "map", [5]),
      ],
    } as unknown as Plan;
    expect(inputUrisOfPipeline(plan, 2).sort()).toEqual(["file:///a", "staging://b"]);
    expect(inputUrisOfPipeline(plan, 6)).toEqual([]);
    expect(inputUrisOfPipeline(plan, 4)).toEqual(["file:///c"]);
  });
});

describe("fetch planning", () => {
  const reads = [
    { shuffleIndex: 0, shuffleId: "j-sh0", numMaps: 2, locations: [
      { mapIndex: 0, attempt: 0, shuffleAddress: "a:1", nodeId: "n1" },
      { mapIndex: 1, attempt: 1, shuffleAddress: "b:1", nodeId: "n2" },
    ] },
    { shuffleIndex: 1, shuffleId: "j-sh1", numMaps: 2, locations: [{ mapIndex: 0, attempt: 0, shuffleAddress: "a:1", nodeId: "n1" }] },
  ];
  it("groups blocks by shuffle service", () => {
    const groups = groupBlocksByAddress(reads);
    expect([...groups.keys()]).toEqual(["a:1", "b:1"]);
    expect(groups.get("a:1")!.map((r) => `${r.shuffleId}/${r.location.mapIndex}`)).toEqual(["j-sh0/0", "j-sh1/0"]);
  });
  it("names map outputs without a location", () => {
    expect(missingLocations(reads)).toEqual(["j-sh1 map 1"]);
  });
});

describe("prepareTransfer", () => {
  it("transfers buffers a view owns and copies slices of shared buffers", () => {
    const owned = new Uint8Array([1, 2, 3]);
    const big = new Uint8Array(1000);
    const slice = big.subarray(10, 20);
    const { views, transfer } = prepareTransfer([owned, slice, owned]);
    expect(views[0]).toBe(owned);
    expect(views[1]).not.toBe(slice);
    expect(views[1].buffer.byteLength).toBe(10);
    expect(views[2]).not.toBe(owned); // the same buffer cannot be transferred twice
    expect(new Set(transfer).size).toBe(transfer.length);
    expect(transfer).not.toContain(big.buffer);
  });
});

it("names part files with five digits", () => {
  expect(partFileName(7)).toBe("part-00007");
});
