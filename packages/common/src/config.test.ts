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

  it("takes the speculation keys per job: off by default, a fractional multiplier of at least 1", () => {
    const defaults = resolveConf({}, {});
    expect(defaults["ballast.speculation.enabled"]).toBe(false);
    expect(defaults["ballast.speculation.multiplier"]).toBe(1.5);
    expect(defaults["ballast.speculation.quantile"]).toBe(0.75);
    expect(defaults["ballast.speculation.minTaskRuntime"]).toBe(100);
    expect(parseJobConfPairs(["ballast.speculation.enabled=true", "ballast.speculation.multiplier=2.5"])).toEqual({
      "ballast.speculation.enabled": "true", "ballast.speculation.multiplier": "2.5",
    });
    expect(() => validateJobConf({ "ballast.speculation.multiplier": "fast" })).toThrow(/expected a number/);
    expect(() => validateJobConf({ "ballast.speculation.multiplier": "0.5" })).toThrow(/at least 1/);
    expect(() => validateJobConf({ "ballast.speculation.quantile": "1.5" })).toThrow(/between 0 and 1/);
  });

  it("has no key that nothing reads", () => {
    expect(Object.keys(CONF_SCHEMA)).not.toContain("ballast.scheduler.addresses");
  });
});
