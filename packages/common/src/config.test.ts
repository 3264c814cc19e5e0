import { describe, expect, it } from "vitest";
import { confFromEnv, CONF_SCHEMA, parseConfPairs, parseJobConfPairs, resolveConf, validateJobConf } from "./config.js";

describe("configuration", () => {
  it("reads BALLAST_* variables for the keys of the schema, naming a bad one", () => {
    expect(confFromEnv({ BALLAST_TASK_MAXFAILURES: "7", BALLAST_DATA_DIR: "/x", PATH: "/bin" })).toEqual({ "ballast.task.maxFailures": "7" });
    expect(() => confFromEnv({ BALLAST_TASK_MAXFAILURES: "many" })).toThrow(/^BALLAST_TASK_MAXFAILURES: invalid value for ballast\.task\.maxFailures: "many"/);
    expect(resolveConf(confFromEnv({ BALLAST_EXECUTOR_HEARTBEATTIMEOUT: "2s" }), {})["ballast.executor.heartbeatTimeout"]).toBe(2000);
  });

  it("refuses process settings in a job's --conf, saying where they belong", () => {
    for (const key of ["ballast.executor.heartbeatInterval", "ballast.executor.heartbeatTimeout", "ballast.scheduler.leaseTimeout", "ballast.scheduler.recovery.executorReconnectTimeout"]) {
      expect(() => parseJobConfPairs([`${key}=2s`]), key).toThrow(`${key} is a process setting, not a job's`);
    }
    expect(() => validateJobConf({ "ballast.scheduler.leaseTimeout": "2s" })).toThrow(
      "set it where the scheduler starts (ballast-scheduler --conf ballast.scheduler.leaseTimeout=VALUE or BALLAST_SCHEDULER_LEASETIMEOUT=VALUE in its environment)",
    );
    // The scheduler's own --conf takes them; a job still sets job keys.
    expect(parseConfPairs(["ballast.scheduler.leaseTimeout=2s"])).toEqual({ "ballast.scheduler.leaseTimeout": "2s" });
    expect(parseJobConfPairs(["ballast.task.maxFailures=3"])).toEqual({ "ballast.task.maxFailures": "3" });
  });

  it("has no key that nothing reads", () => {
    expect(Object.keys(CONF_SCHEMA)).not.toContain("ballast.scheduler.addresses");
  });
});
