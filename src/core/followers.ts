import type { ThreadlineError } from "./errors.js";
import type { FanOut } from "./fanout.js";
import { Follow, type FollowOptions } from "./follow.js";
import type { Logger } from "./logger.js";
import type { SchedulerClock, TimerHandle } from "./scheduler/clock.js";
import type { ThreadStore } from "./store.js";
import type { Telemetry } from "./telemetry.js";

/** How long a deletion waits for this process's followers to receive the thread's last events. */
const DELETE_DRAIN_MS = 5_000;
/** How often followed threads are checked for a deletion made by another instance. */
const DELETED_CHECK_MS = 10_000;
/** How long shutdown waits for followers to take what was committed before they are closed. */
const FINISH_MS = 2_000;

export interface FollowersOptions {
  store: ThreadStore;
  fanout: FanOut;
  telemetry: Telemetry;
  clock: SchedulerClock;
  logger: Logger;
}

/**
 * This process's follows: opened through here, so a thread's deletion, the store's loss of its
 * data and shutdown reach every one of them, and a deletion made by another instance of a
 * shared store is noticed (every `DELETED_CHECK_MS` the followed threads are looked up).
 */
export class Followers {
  private readonly follows = new Set<Follow>();
  private deletedCheck: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: FollowersOptions) {}

  get size(): number {
    return this.follows.size;
  }

  /** Follow a thread: replay, then the live tail, until aborted or `return()`ed. */
  follow(threadId: string, opts?: FollowOptions): Follow {
    const { store, fanout, telemetry } = this.opts;
    const f: Follow = new Follow(store, fanout, threadId, {
      ...opts,
      onClose: () => {
        if (this.follows.delete(f)) telemetry.followerClosed?.();
        opts?.onClose?.();
      },
      onOverflow: () => {
        telemetry.followerCutOff?.("overflow");
        opts?.onOverflow?.();
      },
    });
    if (!f.closed) {
      this.follows.add(f);
      telemetry.followerOpened?.();
    }
    return f;
  }

  /** Before a thread's log goes: its followers here get everything up to `lastSeq` first. */
  async drain(threadId: string, lastSeq: number): Promise<void> {
    await Promise.all(
      [...this.follows]
        .filter((f) => f.threadId === threadId)
        .map((f) => f.delivered(lastSeq, DELETE_DRAIN_MS)),
    );
  }

  /** The thread is gone: its followers' streams end with the deleted marker. */
  threadDeleted(threadId: string): void {
    this.opts.fanout.pages.forget(threadId);
    for (const f of [...this.follows]) if (f.threadId === threadId) f.threadDeleted();
  }

  /** The store lost its data: every stream ends saying so (PROTOCOL.md §2.8). */
  dataLost(error: ThreadlineError): void {
    for (const f of [...this.follows]) f.dataLost(error);
  }

  /** Starts looking for threads deleted through another instance. */
  watchDeletions(): void {
    if (this.stopped) return;
    this.deletedCheck = this.opts.clock.setTimer(
      () =>
        this.checkDeleted()
          .catch((error) => this.opts.logger.warn({ err: error }, "deleted-thread check failed"))
          .finally(() => this.watchDeletions()),
      DELETED_CHECK_MS,
    );
  }

  stopWatching(): void {
    this.stopped = true;
    this.deletedCheck?.cancel();
  }

  /**
   * Shutdown: every follower gets what was committed and its stream ends cleanly; those that do
   * not take it within `FINISH_MS` are closed.
   */
  async finish(): Promise<void> {
    this.stopWatching();
    for (const f of this.follows) f.finish();
    const deadline = Date.now() + FINISH_MS;
    while (this.follows.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const f of [...this.follows]) f.close();
  }

  /** Threads followed here that the store no longer has: their followers end. */
  private async checkDeleted(): Promise<void> {
    const threadIds = new Set([...this.follows].filter((f) => !f.closed).map((f) => f.threadId));
    for (const threadId of threadIds) {
      const head = await this.opts.store.threads.head(threadId).catch(() => undefined);
      if (head === null) this.threadDeleted(threadId);
    }
  }
}
