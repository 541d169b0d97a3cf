/** A pending timer; `cancel` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * The time source of the scheduler and webhook checks. Injectable so tests advance time without
 * sleeping (`ManualClock`). A timer callback may return a promise: a manual clock awaits it before
 * moving on, so a tick's work (claim, run start, persistence) is done when `advance` resolves.
 */
export interface SchedulerClock {
  now(): number;
  setTimer(fn: () => unknown, delayMs: number): TimerHandle;
}

/** setTimeout's delay is a signed 32-bit int; longer delays fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Wall time. Timers are unref'd: a schedule alone never keeps the process alive. */
export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const at = Date.now() + Math.max(0, delayMs);
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      const left = at - Date.now();
      // Far ticks (a yearly cron) are reached in steps below the setTimeout limit.
      handle = setTimeout(
        () => {
          if (cancelled) return;
          if (at - Date.now() > 0 && left > MAX_TIMEOUT_MS) arm();
          else void fn();
        },
        Math.min(Math.max(0, left), MAX_TIMEOUT_MS),
      );
      handle.unref();
    };
    arm();
    return {
      cancel() {
        cancelled = true;
        clearTimeout(handle);
      },
    };
  },
};

/**
 * Calls `fn` every `ms` on `clock` until the handle is cancelled. Re-armed before `fn` runs, as
 * `setInterval` would; the timer callback returns `fn`'s promise, so a manual clock has the work
 * done when its `advance` resolves.
 */
export function every(
  clock: SchedulerClock,
  ms: number,
  fn: () => Promise<unknown> | undefined,
): TimerHandle {
  let current: TimerHandle | undefined;
  let cancelled = false;
  const tick = (): Promise<unknown> | undefined => {
    if (cancelled) return undefined;
    current = clock.setTimer(tick, ms);
    return fn();
  };
  current = clock.setTimer(tick, ms);
  return {
    cancel() {
      cancelled = true;
      current?.cancel();
    },
  };
}
