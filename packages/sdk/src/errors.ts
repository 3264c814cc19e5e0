/**
 * Thrown for misuse of the job API (missing argument, bad partition count,
 * no action, ...). The message is meant for the job's author as is.
 */
export class JobDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobDefinitionError";
  }
}

/** An action whose result does not exist (first() or reduce() of an empty dataset). */
export class ActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ActionError";
  }
}
