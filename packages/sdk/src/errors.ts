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
