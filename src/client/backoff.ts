/** Reconnect timing of a follower. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 250. */
  initialMs?: number;
  /** Upper bound of a delay, in ms. Default 10 000. */
  maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /**
   * Share of each delay that is random, 0..1. Default 0.5: a delay is between half and all of
   * the exponential step, so followers that lost the same server do not return in lockstep.
   */
  jitter?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. Default Math.random. */
  random?: () => number;
}

/** Delay before retry number `failures` (1 = first retry): exponential, capped, jittered. */
export function backoffDelay(failures: number, opts: BackoffOptions = {}): number {
  const initial = Math.max(0, opts.initialMs ?? 250);
  const max = Math.max(initial, opts.maxMs ?? 10_000);
  const factor = Math.max(1, opts.factor ?? 2);
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const random = opts.random ?? Math.random;
  const step = Math.min(max, initial * factor ** Math.max(0, failures - 1));
  return Math.round(step * (1 - jitter) + step * jitter * random());
}

/** Resolves after `ms`, or at once (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
