import { status } from "@grpc/grpc-js";
import { BallastError } from "../../../packages/common/src/errors.js";

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
