/** A command's own failure with its exit code: 1 the job or a service failed, 2 a usage or input mistake. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
