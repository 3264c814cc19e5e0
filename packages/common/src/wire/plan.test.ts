import { describe, expect, it } from "vitest";
import { Plan as WirePlan } from "@ballast/gen/common";
import type { Plan } from "../plan.js";
import { planFromWire, planToWire } from "./plan.js";

const plan: Plan = {
  jobName: "explore",
  datasets: [{ id: 0, op: "range", parentIds: [], numPartitions: 2, wide: false, callSite: "explore.ts:3", uri: "" }],
  shuffles: [],
  finalDatasetId: 0,
  action: "count",
  outputUri: "",
  args: ["--input", "x"],
  inputs: [],
  graphHash: "abc",
};

/** Through the encoded bytes, as a submission or a launch travels. */
const roundTrip = (p: Plan) => planFromWire(WirePlan.decode(WirePlan.encode(planToWire(p)).finish()));

describe("plan conversion", () => {
  it("a job's plan has no driver position", () => {
    expect(roundTrip(plan)).toEqual(plan);
  });

  it("an app's plan keeps its action's place in the driver program", () => {
    const driver = { actionIndex: 2, recordedResults: "kqGB" };
    expect(roundTrip({ ...plan, driver })).toEqual({ ...plan, driver });
  });
});
