import { describe, expect, it } from "vitest";
import { jobView } from "./index.js";
import { eventsIn, Harness } from "./testing/harness.js";
import { singleStagePlan } from "./testing/plans.js";
import type { Command } from "./types.js";

/** Two executors; the shell's answers to commitJobOutput are the test's to give. */
function cluster(): Harness {
  const h = new Harness();
  h.answerOutputCommits = false;
  h.addExecutor("e1", "n1", 2);
  h.addExecutor("e2", "n2", 2);
  return h;
}

const commitsIn = (commands: Command[]) => commands.filter((command) => command.type === "commitJobOutput");
const abortsIn = (commands: Command[]) => commands.filter((command) => command.type === "abortJobOutput");

/** Both partitions' first attempts commit and succeed: the job is now committing. */
function runToCommit(h: Harness): Command[] {
  h.submit("j", singleStagePlan(2, "saveAsTextFile"));
  expect(h.commit("j.0.0.0.0")).toBe(true);
  expect(h.commit("j.0.0.1.0")).toBe(true);
  h.succeed("j.0.0.0.0");
  return h.succeed("j.0.0.1.0");
}

describe("job-level output commit", () => {
  it("asks the shell to promote the authorized attempts' parts and succeeds only on its answer", () => {
    const h = cluster();
    const last = runToCommit(h);
    expect(commitsIn(last)).toEqual([{ type: "commitJobOutput", jobId: "j", outputUri: "file:///out", parts: ["j.0.0.0.0", "j.0.0.1.0"] }]);
    expect(jobView(h.state, "j")!.status).toBe("running");
    expect(eventsIn(last, "jobEnded")).toEqual([]);
    const answered = h.send({ type: "jobOutputCommitted", jobId: "j" });
    expect(eventsIn(answered, "jobEnded")).toEqual([expect.objectContaining({ status: "succeeded" })]);
    expect(jobView(h.state, "j")!.result).toMatchObject({ action: "saveAsTextFile", count: 2, outputUri: "file:///out" });
    expect(abortsIn(answered)).toEqual([]);
    expect(h.send({ type: "jobOutputCommitted", jobId: "j" })).toEqual([]); // a duplicate answer changes nothing
  });

  it("promotes the attempt that was authorized, not an earlier one that died before reporting", () => {
    const h = cluster();
    h.submit("j", singleStagePlan(1, "saveAsTextFile"));
    expect(h.commit("j.0.0.0.0")).toBe(true);
    h.loseExecutor(h.live.get("j.0.0.0.0")!.executorId);
    const [retry] = h.liveIds();
    expect(h.commit(retry!)).toBe(true);
    const last = h.succeed(retry!);
    expect(commitsIn(last)).toEqual([expect.objectContaining({ parts: [retry] })]);
  });

  it("denies every commit and ignores cancellation while the job commit runs", () => {
    const h = cluster();
    runToCommit(h);
    expect(h.commit("j.0.0.0.0")).toBe(false); // even the holder: nothing may change the output now
    expect(h.send({ type: "cancelJob", jobId: "j", reason: "user asked" })).toEqual([]);
    expect(jobView(h.state, "j")!.status).toBe("running");
  });

  it("fails the job with the reason when the commit fails, and removes the attempts' output", () => {
    const h = cluster();
    runToCommit(h);
    const answered = h.send({ type: "jobOutputCommitted", jobId: "j", error: "the committed output of partition 1 is missing" });
    expect(jobView(h.state, "j")).toMatchObject({
      status: "failed",
      error: { kind: "outputCommitFailed", message: "Job j could not commit its output to file:///out: the committed output of partition 1 is missing" },
    });
    expect(abortsIn(answered)).toEqual([{ type: "abortJobOutput", jobId: "j", outputUri: "file:///out" }]);
  });

  it("removes a cancelled job's temporary output", () => {
    const h = cluster();
    h.submit("j", singleStagePlan(2, "saveAsTextFile"));
    h.commit("j.0.0.0.0");
    const [first, second] = ["j.0.0.0.0", "j.0.0.1.0"].map((taskId) => h.live.get(taskId)!.executorId);
    const cancelled = h.send({ type: "cancelJob", jobId: "j", reason: "user asked" });
    expect(commitsIn(cancelled)).toEqual([]);
    // The authorized attempt may still be naming its part: the abort waits for both attempts' ends.
    expect(abortsIn(cancelled)).toEqual([]);
    expect(abortsIn(h.send({ type: "taskUpdate", executorId: first!, taskId: "j.0.0.0.0", state: "succeeded" }))).toEqual([]);
    const lastEnd = h.send({ type: "taskUpdate", executorId: second!, taskId: "j.0.0.1.0", state: "killed" });
    expect(abortsIn(lastEnd)).toEqual([{ type: "abortJobOutput", jobId: "j", outputUri: "file:///out" }]);
    expect(abortsIn(h.tick(60_000))).toEqual([]); // once
  });

  it("a failed job's output abort waits for an attempt whose executor is lost", () => {
    const h = cluster();
    h.submit("j", singleStagePlan(2, "saveAsTextFile"));
    h.commit("j.0.0.0.0");
    const [holder, other] = ["j.0.0.0.0", "j.0.0.1.0"].map((taskId) => h.live.get(taskId)!.executorId);
    expect(abortsIn(h.send({ type: "cancelJob", jobId: "j", reason: "user asked" }))).toEqual([]);
    if (other !== holder) h.send({ type: "taskUpdate", executorId: other!, taskId: "j.0.0.1.0", state: "killed" });
    expect(abortsIn(h.loseExecutor(holder!))).toEqual([{ type: "abortJobOutput", jobId: "j", outputUri: "file:///out" }]);
  });

  it("asks again after a failover: the previous leader's commit may never have finished", () => {
    const h = cluster();
    runToCommit(h);
    const recovered = h.send({ type: "recoveryStarted", epoch: 2 });
    expect(commitsIn(recovered)).toEqual([expect.objectContaining({ jobId: "j", parts: ["j.0.0.0.0", "j.0.0.1.0"] })]);
    h.send({ type: "jobOutputCommitted", jobId: "j" });
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
  });

  it("collect jobs succeed without a job commit", () => {
    const h = cluster();
    h.submit("j", singleStagePlan(1));
    const last = h.succeed("j.0.0.0.0");
    expect(commitsIn(last)).toEqual([]);
    expect(jobView(h.state, "j")!.status).toBe("succeeded");
  });
});
