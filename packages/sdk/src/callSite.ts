/**
 * "file.ts:LINE" of the user's code that called an SDK method, for progress
 * and the UI. Cosmetic only: it depends on source maps, so it stays out of
 * the graph hash.
 */
const FRAME_LOCATION = /\(?((?:file:\/\/)?[^\s()]+):(\d+):\d+\)?\s*$/;

/**
 * Call from the body of a public SDK method: frame 0 is that method, frame 1
 * its caller. Frames that still lie in the SDK sources are skipped.
 */
export function userCallSite(): string {
  const holder: { stack?: string } = {};
  const previousLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  try {
    Error.captureStackTrace(holder, userCallSite);
  } finally {
    Error.stackTraceLimit = previousLimit;
  }
  const frames = (holder.stack ?? "").split("\n").slice(1);
  for (const frame of frames.slice(1)) {
    const location = FRAME_LOCATION.exec(frame);
    if (!location) continue;
    const file = location[1]!;
    if (/[\\/]packages[\\/]sdk[\\/]src[\\/]/.test(file) && !/\.test\.ts$/.test(file)) continue;
    return `${file.split(/[\\/]/).pop()}:${location[2]}`;
  }
  return "";
}
