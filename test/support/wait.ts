// Waiting on conditions, never on timers (STYLE.md §9: tests that cannot lie).
//
// `waitFor` polls a condition until it returns a truthy value or the deadline
// passes; the poll interval is only how often we look, never what we rely on.
// `withDeadline` bounds a promise so a missing reply fails the test instead of
// hanging it.

export interface WaitOptions {
  /** Give up after this long and throw, naming `what`. */
  timeoutMs: number;
  /** What we are waiting for, for the error message ("ZooKeeper on :2181 answers imok"). */
  what: string;
  /** How often to evaluate the condition. Default 20 ms. */
  intervalMs?: number;
}

export class WaitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Evaluate `condition` until it returns a truthy value (which is returned) or
 * `timeoutMs` elapses (then throws WaitTimeoutError). A condition that throws
 * counts as "not yet"; the last error is included in the timeout message.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions,
): Promise<NonNullable<T>> {
  const intervalMs = options.intervalMs ?? 20;
  const deadlineMs = Date.now() + options.timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    const leftMs = deadlineMs - Date.now();
    if (leftMs <= 0) {
      const cause = lastError === undefined ? '' : ` (last error: ${describeError(lastError)})`;
      throw new WaitTimeoutError(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(intervalMs, leftMs)));
  }
}

/** Resolve or reject like `promise`, but reject with WaitTimeoutError after `timeoutMs`. */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
