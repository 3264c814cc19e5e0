/** The scheduler core: a deterministic state machine with no I/O. */
export { createState, STATE_FORMAT, type SchedulerState } from "./state.js";
export { step } from "./step.js";
export { cachedDatasetsOf } from "./cache.js";
export { applicationView } from "./applications.js";
export { jobView, listJobs, executorViews, nodeViews, nextDueMs, runningTaskIds } from "./views.js";
export { planProblem, planStages, type StagePlan } from "./planning.js";
export { confProblem } from "./exclusionRules.js";
export type * from "./types.js";
