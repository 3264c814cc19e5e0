import { status, type ServiceError, Metadata } from "@grpc/grpc-js";

/**
 * The one error hierarchy of Ballast. `retryable` tells callers whether the
 * same request may succeed later; the gRPC code is derived in one place.
 */
export class BallastError extends Error {
  constructor(
    message: string,
    readonly code: status,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The caller sent something wrong: fix the request, do not retry. */
export class InvalidArgumentError extends BallastError {
  constructor(message: string) {
    super(message, status.INVALID_ARGUMENT, false);
  }
}

/** Throws InvalidArgumentError with the problem a check (see limits.ts) found, if any. */
export function requireValid(problem: string | undefined): void {
  if (problem) throw new InvalidArgumentError(problem);
}

export class NotFoundError extends BallastError {
  constructor(message: string) {
    super(message, status.NOT_FOUND, false);
  }
}

export class AlreadyExistsError extends BallastError {
  constructor(message: string) {
    super(message, status.ALREADY_EXISTS, false);
  }
}

/** The caller is known but may not do this (staging outside its space, a job token listing). */
export class PermissionDeniedError extends BallastError {
  constructor(message: string) {
    super(message, status.PERMISSION_DENIED, false);
  }
}

/** The request conflicts with current state (e.g. resume at a wrong offset). */
export class FailedPreconditionError extends BallastError {
  constructor(message: string) {
    super(message, status.FAILED_PRECONDITION, false);
  }
}

/** A peer or resource is temporarily not there: retry with backoff. */
export class UnavailableError extends BallastError {
  constructor(message: string) {
    super(message, status.UNAVAILABLE, true);
  }
}

/** The peer took too long (an idle stream); it may try again. */
export class DeadlineExceededError extends BallastError {
  constructor(message: string) {
    super(message, status.DEADLINE_EXCEEDED, true);
  }
}

/** Stored data failed its checksum. */
export class DataLossError extends BallastError {
  constructor(message: string) {
    super(message, status.DATA_LOSS, false);
  }
}

export class InternalError extends BallastError {
  constructor(message: string) {
    super(message, status.INTERNAL, false);
  }
}

/** A download range that reaches past the end of the blob. */
export class OutOfRangeError extends BallastError {
  constructor(message: string) {
    super(message, status.OUT_OF_RANGE, false);
  }
}

/** Another upload of the same blob is running; retry later (it may finish or break). */
export class UploadBusyError extends BallastError {
  constructor(message: string) {
    super(message, status.ABORTED, true);
  }
}

/** Maps any thrown value to what a gRPC handler sends back. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof BallastError) {
    return { code: err.code, details: err.message, metadata: new Metadata() };
  }
  if (isServiceError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: `internal error: ${message}`, metadata: new Metadata() };
}

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && "code" in err && typeof (err as ServiceError).code === "number" && "details" in err;
}

/** NOT_FOUND, thrown here or answered by a service. */
export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError || (isServiceError(err) && err.code === status.NOT_FOUND);
}

const RETRYABLE_CODES = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED]);

/** grpc-js's RESOURCE_EXHAUSTED for a message over the size limit: the same answer is as large next time. */
const OVERSIZED_MESSAGE = /message larger than max/i;

/** True when a failed call may succeed if tried again later. An over-large message never will: no reconnect loop. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof BallastError) return err.retryable;
  if (isServiceError(err)) return RETRYABLE_CODES.has(err.code) && !(err.code === status.RESOURCE_EXHAUSTED && OVERSIZED_MESSAGE.test(err.details ?? ""));
  return false;
}

/** A short human message for an error, without the gRPC "N CODE:" prefix. */
export function describeError(err: unknown): string {
  if (isServiceError(err)) return err.details || err.message;
  return err instanceof Error ? err.message : String(err);
}
