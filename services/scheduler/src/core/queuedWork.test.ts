import { describe, expect, it } from "vitest";
import { Harness } from "./testing/harness.js";
import { singleStagePlan } from "./testing/plans.js";

/** One executor with one worker slot and a queue of 32: how many of job j's tasks it holds. */
function oneSlotWithQueue(conf: Record<string, string> = {}): Harness {
  const h = new Harness(conf);
  h.addExecutor("e1", "n1", 33, 32);
  h.submit("j", singleStagePlan(200));
  return h;
}

describe("queued work per slot (ballast.scheduler.queuedWork)", () => {
  it("queues one task per slot until the stage has a pace, then as many short tasks as the queue takes", () => {
    const h = oneSlotWithQueue();
    expect(h.liveIds()).toHaveLength(2);
    h.succeed(h.liveIds()[0]!, 1); // 1 ms tasks: 100 of them make the 100 ms of queued work; the queue holds 32
    expect(h.liveIds()).toHaveLength(33);
  });

  it("queues long tasks one per slot, however deep the executor's queue", () => {
    const h = oneSlotWithQueue();
    h.succeed(h.liveIds()[0]!, 2_000);
    expect(h.liveIds()).toHaveLength(2);
  });

  it("fills the queue with as many tasks as make up the queued work at the recent mean", () => {
    const h = oneSlotWithQueue({ "ballast.scheduler.queuedWork": "50ms" });
    h.succeed(h.liveIds()[0]!, 10); // 50 ms / 10 ms: five per slot
    expect(h.liveIds()).toHaveLength(6);
  });
});
