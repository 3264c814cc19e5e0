/**
 * Invariants of supervised drivers (detached applications), after every
 * step: a running application's driver is placed on an executor the core
 * holds alive, or waits only while no executor can take it; its failures
 * never exceed ballast.driver.maxFailures while it still runs.
 */
import { CONF_SCHEMA } from "@ballast/common/config";
import { isUsable } from "../src/core/clusterQueries.js";
import type { SchedulerState } from "../src/core/state.js";

const MAX_FAILURES = "ballast.driver.maxFailures";

export function checkDrivers(state: SchedulerState, violation: (message: string) => void): void {
  for (const application of state.applications.values()) {
    const driver = application.driver;
    if (!driver || application.status !== "running") continue;
    const host = state.executors.get(driver.executorId);
    if (driver.executorId !== "" && !host?.alive) violation(`driver of ${application.applicationId} placed on ${driver.executorId}, which is not alive`);
    const usable = [...state.executors.values()].some((executor) => isUsable(state, executor) && executor.excludedUntilMs === 0);
    if (driver.executorId === "" && usable) violation(`driver of ${application.applicationId} waits although an executor could take it`);
    // The int as the core resolves it (resolveConf on every step would dominate the simulation's time).
    const limit = Number(application.conf[MAX_FAILURES] ?? state.baseConf[MAX_FAILURES] ?? CONF_SCHEMA[MAX_FAILURES].default);
    if (driver.failures >= limit) violation(`driver of ${application.applicationId} failed ${driver.failures} times (limit ${limit}) and its application still runs`);
  }
}
