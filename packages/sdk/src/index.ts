/** The Ballast SDK: what a job imports as "ballast". */
export { job } from "./job.js";
export { app, type DriverProgram } from "./app.js";
export { JobContext, parseJobArgs } from "./context.js";
export { Dataset, type Widen } from "./dataset.js";
export { ActionError, JobDefinitionError } from "./errors.js";
export { decodeCollected } from "./runtime/codec.js";
export { shuffleReadsOf, type ShuffleRead } from "./planning.js";
export type {
  Action,
  ActionResult,
  AppDefinition,
  AppRunOptions,
  RawActionResult,
  StorageLevel,
  BuiltJob,
  JobDefinition,
  PartitionIO,
  PartitionOptions,
  PartitionOutput,
  PartitionTask,
  SortOptions,
  Plan,
} from "./types.js";
