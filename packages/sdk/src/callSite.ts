/**
 * "file.ts:LINE" of the user's code that called an SDK method, for progress
 * and the UI. Cosmetic only: it depends on source maps, so it stays out of
 * the graph hash.
 */
const FRAME_LOCATION = /\(?((?:file:\/\/)?[^\s()]+):(\d+):\d+\)?\s*$/;

/**
 * A call site captured but not yet formatted: reading it formats the stack, and the first
 * formatting in a process parses the bundle's source map (some 15-50 ms per task worker
 * for a word count). Executors rebuild the graph only to check its hash and never read it.
 */
export type CallSite = () => string;

/**
 * Call from the body of a public SDK method: frame 0 is that method, frame 1
 * its caller. Frames that still lie in the SDK sources are skipped.
 */
export function userCallSite(): CallSite {
  const holder: { stack?: string } = {};
  const previousLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  try {
    // V8 keeps the frames now and formats them (through source maps) on the first read of .stack.
    Error.captureStackTrace(holder, userCallSite);
  } finally {
    Error.stackTraceLimit = previousLimit;
  }
  let formatted: string | undefined;
  return () => (formatted ??= userFrameOf(holder.stack ?? ""));
}

function userFrameOf(stack: string): string {
  const frames = stack.split("\n").slice(1);
  for (const frame of frames.slice(1)) {
    const location = FRAME_LOCATION.exec(frame);
    if (!location) continue;
    const file = location[1]!;
    if (/[\\/]packages[\\/]sdk[\\/]src[\\/]/.test(file) && !/\.test\.ts$/.test(file)) continue;
    return `${file.split(/[\\/]/).pop()}:${location[2]}`;
  }
  return "";
}

/** `target` with an enumerable `callSite` that formats the captured one when first read (spreading the object reads it). */
export function withCallSite<T extends object>(target: T, callSite: CallSite): T & { readonly callSite: string } {
  return Object.defineProperty(target, "callSite", { get: callSite, enumerable: true }) as T & { readonly callSite: string };
}
