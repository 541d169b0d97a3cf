import type { Logger } from "./logger.js";
import type { ClaimedRun } from "./store.js";

/** What the pump drives: the claim of a thread's next queued run and its execution. */
export interface RunSlot {
  /** Claims the thread's next queued run for this process (null: none is waiting). */
  claim(threadId: string): Promise<ClaimedRun | null>;
  /** Executes a claimed run to its end (never rejects for the run's own failures). */
  execute(claimed: ClaimedRun): Promise<void>;
}

/**
 * The per-thread queue pump: claims and executes a thread's queued runs one after another, at
 * most one pump per thread in this process, so this process never runs two of a thread's runs
 * at once (the store's claim keeps other processes out).
 */
export class QueuePump {
  private readonly pumping = new Map<string, Promise<void>>();
  /** Threads whose pump was asked to run while it was already running (see `pump`). */
  private readonly again = new Set<string>();
  private closing = false;

  constructor(
    private readonly slot: RunSlot,
    private readonly logger: Logger,
  ) {}

  /** Claims and executes the thread's queued runs one after another. */
  pump(threadId: string): void {
    if (this.closing) return;
    if (this.pumping.has(threadId)) {
      // The running pump may be past its last claim already (an async store answers later):
      // tell it to look again, or a run enqueued now would wait for the next restart.
      this.again.add(threadId);
      return;
    }
    const p = (async () => {
      try {
        for (;;) {
          if (this.closing) return;
          this.again.delete(threadId);
          const claimed = await this.slot.claim(threadId);
          if (!claimed) {
            if (this.again.has(threadId)) continue;
            return;
          }
          await this.slot.execute(claimed);
        }
      } catch (error) {
        this.logger.error({ err: error, threadId }, "run queue failed");
      } finally {
        this.pumping.delete(threadId);
        this.again.delete(threadId);
      }
    })();
    this.pumping.set(threadId, p);
  }

  /** Resolves when the thread has no local run executing or queued for this process. */
  async idle(threadId: string): Promise<void> {
    for (;;) {
      const p = this.pumping.get(threadId);
      if (!p) return;
      await p;
    }
  }

  /** Stops claiming (a pump finishes the run it executes); resolves when every pump stopped. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.pumping.values()]);
  }
}
