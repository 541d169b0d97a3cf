import type { SchedulerClock, TimerHandle } from "./clock.js";

interface PendingTimer {
  at: number;
  order: number;
  fn: () => unknown;
}

/**
 * A clock that moves only when told to, for tests: `advance(ms)` fires every timer due within
 * the window in time order, setting `now()` to each timer's due time and awaiting what the
 * callback returns, so each tick happens at its exact instant and finishes before the next.
 */
export class ManualClock implements SchedulerClock {
  private time: number;
  private order = 0;
  private timers = new Set<PendingTimer>();

  constructor(start: number | Date = Date.now()) {
    this.time = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => unknown, delayMs: number): TimerHandle {
    const timer: PendingTimer = { at: this.time + Math.max(0, delayMs), order: this.order++, fn };
    this.timers.add(timer);
    return { cancel: () => this.timers.delete(timer) };
  }

  /** Number of armed timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers one at a time (including ones they arm). */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.time + Math.max(0, ms));
  }

  async advanceTo(target: number | Date): Promise<void> {
    const end = typeof target === "number" ? target : target.getTime();
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > end) break;
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at);
      await next.fn();
    }
    this.time = Math.max(this.time, end);
  }

  /**
   * Jumps to `target` without firing anything, like a process that was not running: timers
   * armed before the jump stay pending and fire on the next `advance`.
   */
  jumpTo(target: number | Date): void {
    this.time = typeof target === "number" ? target : target.getTime();
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) {
      if (!best || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    return best;
  }
}
