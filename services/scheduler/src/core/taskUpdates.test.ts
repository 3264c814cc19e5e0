import { describe, expect, it } from "vitest";
import { executorViews, jobView } from "./index.js";
import { step } from "./step.js";
import { createState } from "./state.js";
import { cluster, eventsIn, Harness, launchesIn } from "./testing/harness.js";
import { singleStagePlan, threeStagePlan } from "./testing/plans.js";

/** Reports every live task's success, each executor's in one "taskUpdates" input, until nothing is live. */
function runInBatches(h: Harness): void {
  while (h.live.size > 0) {
    for (const executorId of ["e1", "e2"]) {
      const taskIds = h.liveIds().filter((taskId) => h.live.get(taskId)!.executorId === executorId);
      if (taskIds.length > 0) h.succeedTogether(executorId, taskIds);
    }
  }
}

describe("an executor's task updates of one message as one input", () => {
  it("runs a 3-stage job to the same result as one input per update", () => {
    const single = cluster();
    single.submit("j1", threeStagePlan(4, 3, 2));
    single.runAll();
    const batched = cluster();
    batched.submit("j1", threeStagePlan(4, 3, 2));
    runInBatches(batched);
    const view = jobView(batched.state, "j1")!;
    expect(view.status).toBe("succeeded");
    expect(view.result).toEqual(jobView(single.state, "j1")!.result);
    expect(view.stats).toEqual(jobView(single.state, "j1")!.stats);
    expect(eventsIn(batched.log, "taskEnded")).toHaveLength(9);
    expect(executorViews(batched.state).map((executor) => executor.runningTasks)).toEqual([0, 0]);
  });

  it("fills every slot its updates free in the same step", () => {
    const h = cluster();
    h.submit("j1", singleStagePlan(8));
    const e1Tasks = h.liveIds().filter((taskId) => h.live.get(taskId)!.executorId === "e1");
    expect(e1Tasks).toHaveLength(2);
    const next = launchesIn(h.succeedTogether("e1", e1Tasks));
    expect(next.map((launch) => launch.executorId)).toEqual(["e1", "e1"]);
  });

  it("skips an update of a task the executor does not hold and applies the rest", () => {
    const h = cluster();
    h.submit("j1", singleStagePlan(2));
    const [first, second] = h.liveIds();
    const e1Task = h.live.get(first!)!.executorId === "e1" ? first! : second!;
    const commands = h.send({ type: "taskUpdates", executorId: "e1", updates: [{ taskId: "j1.0.0.9.0", state: "succeeded" }, h.successUpdate(e1Task)] });
    expect(eventsIn(commands, "taskEnded").map((event) => event.taskId)).toEqual([e1Task]);
    expect(jobView(h.state, "j1")!.stages[0]!.completedTasks).toBe(1);
  });

  it("replays to the same state", () => {
    const h = cluster();
    h.submit("j1", threeStagePlan(4, 3, 2));
    runInBatches(h);
    const replayed = createState({});
    for (const { input, now } of h.inputs) step(replayed, input, now);
    expect(jobView(replayed, "j1")).toEqual(jobView(h.state, "j1"));
    expect(h.inputs.some(({ input }) => input.type === "taskUpdates")).toBe(true);
  });
});
