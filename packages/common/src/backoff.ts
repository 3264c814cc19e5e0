/** Retry pacing for every bounded retry loop. Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries spread out but never collapse to 0. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Delay before retry number `retry` (1-based). `random` in [0, 1) is injected for tests. */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.initialMs * 2 ** Math.max(0, retry - 1);
  const capped = Math.min(policy.maxMs, exponential);
  return Math.round(capped / 2 + (random() * capped) / 2);
}

/** Resolves after ms, or rejects early with signal.reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Calls `attempt` until it resolves, waiting between failures by `policy` and
 * telling `onRetry` about each; an error for which `isFatal` holds ends it
 * (a mistake in the configuration, unlike an unreachable database, never heals).
 */
export async function retryWithBackoff<T>(
  attempt: () => Promise<T>,
  policy: BackoffPolicy,
  onRetry: (err: unknown, retry: number, retryInMs: number) => void,
  isFatal: (err: unknown) => boolean = () => false,
): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (isFatal(err)) throw err;
      const retryInMs = backoffDelay(retry, policy);
      onRetry(err, retry, retryInMs);
      await sleep(retryInMs);
    }
  }
}

/** A call that did not settle within its deadline. */
export class DeadlineExceededError extends Error {}

/**
 * `promise`, or a DeadlineExceededError after `ms`, whichever comes first.
 * The call itself goes on; its late result is dropped (an adapter must make
 * that harmless, e.g. a renewal that lands late merely extends the lease).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(`${what} did not complete within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined); // a late rejection is not unhandled
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
