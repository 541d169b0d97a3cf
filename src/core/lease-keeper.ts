import { ThreadlineError } from "./errors.js";
import type { Logger } from "./logger.js";
import { every, type SchedulerClock, type TimerHandle } from "./scheduler/clock.js";
import type { ThreadStore } from "./store.js";
import type { Fence } from "./types.js";

export interface LeaseKeeperOptions {
  store: ThreadStore;
  threadId: string;
  runId: string;
  fence: Fence;
  leaseMs: number;
  clock: SchedulerClock;
  logger: Logger;
  /** The lease is gone (taken over, the run ended elsewhere, the store lost its data). */
  onLost(): void;
  /** Someone asked the store to cancel the run. */
  onCancel(): void;
}

/** Errors after which a run's holder must not try again: its lease is gone, or its data is. */
export function endsForGood(error: unknown): boolean {
  return ThreadlineError.is(error, "LEASE_LOST") || ThreadlineError.is(error, "DATA_LOST");
}

/**
 * Keeps an executing run's lease: renews it every third of a lease on the clock (a renewal also
 * tells of a cancel asked anywhere), and looks once at once for a cancel or interrupt that
 * reached the store between the claim and the start, which found no local run to stop.
 * `cancel()` the handle when the run ended.
 */
export function keepLease(opts: LeaseKeeperOptions): TimerHandle {
  const { store, threadId, runId, fence, leaseMs, clock, logger } = opts;
  const renew = () =>
    store.runs
      .renew(threadId, fence, { leaseMs, now: clock.now() })
      .then((r) => {
        if (!r.ok) opts.onLost();
        else if (r.cancelRequested) opts.onCancel();
      })
      .catch((error) => {
        if (endsForGood(error)) opts.onLost();
        else logger.warn({ err: error, runId }, "lease renewal failed");
      });
  const timer = every(clock, Math.max(100, Math.floor(leaseMs / 3)), renew);
  // Likely with a networked store; a read, not a renewal: the lease was just granted, and a
  // write costs a commit.
  store.runs
    .get(threadId, runId)
    .then((r) => {
      if (r?.cancelRequested) opts.onCancel();
    })
    .catch((error) => logger.warn({ err: error, runId }, "run check failed"));
  return timer;
}
