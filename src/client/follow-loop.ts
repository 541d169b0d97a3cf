import type { FollowStatus, ThreadEvent } from "./follow-thread.js";
import type { ThreadlineClient } from "./threadline-client.js";

/**
 * How a follow starts: `fresh` replays the thread (compact) and applies it; `resume` continues
 * after a cursor (dropping `reopen` frames); `live` takes only what happens from now on.
 */
export type FollowMode = "fresh" | "resume" | "live";

export interface FollowLoopOptions {
  client: ThreadlineClient;
  threadId: string;
  mode: FollowMode;
  /** The cursor of a `resume`. */
  after?: number;
  /** Applies one item; the next one is read only after it resolves. */
  apply(item: ThreadEvent): Promise<void>;
  /** Fresh mode: whether the replay up to `lastSeq` has been applied (checked after each item). */
  replayed(lastSeq: number): boolean;
  onStatus(status: FollowStatus): void;
  /** An error that ended the loop after it was established (before that, `ready` rejects). */
  onFailed(error: unknown): void;
}

/**
 * A follow of a thread feeding one consumer in order, in the background. `ready` resolves once
 * it is attached — for a fresh follow, once the replay is applied — and rejects with an error
 * that prevented that (a 404 for a thread not created yet, a 401...).
 */
export class FollowLoop {
  readonly ready: Promise<void>;
  readonly done: Promise<void>;
  /** True while `apply` runs: a callback inside it must not wait for this loop to end. */
  applying = false;
  private readonly controller = new AbortController();
  private established = false;
  private resolveReady!: () => void;
  private rejectReady!: (error: unknown) => void;

  constructor(private readonly opts: FollowLoopOptions) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.done = this.loop();
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Ends the follow; waits for the item being applied unless called from inside `apply`. */
  async stop(): Promise<void> {
    this.controller.abort();
    if (!this.applying) await this.done;
  }

  private async loop(): Promise<void> {
    const opts = this.opts;
    const controller = this.controller;
    let target: number | undefined;
    const check = () => {
      if (target === undefined || this.established) return;
      this.established = opts.mode !== "fresh" || target === 0 || opts.replayed(target);
      if (this.established) this.resolveReady();
    };
    const items = opts.client.follow(opts.threadId, {
      ...(opts.mode === "fresh"
        ? { replay: "compact" as const }
        : opts.mode === "live"
          ? { replay: "none" as const }
          : { after: opts.after ?? 0 }),
      signal: controller.signal,
      onStatus: (status) => {
        opts.onStatus(status);
        if (status.state === "open" && target === undefined) {
          target = status.lastSeq ?? 0;
          check();
        }
      },
    });
    try {
      for await (const item of items) {
        if (controller.signal.aborted) break;
        this.applying = true;
        try {
          await opts.apply(item);
        } finally {
          this.applying = false;
        }
        check();
      }
    } catch (error) {
      this.rejectReady(error);
      if (this.established && !controller.signal.aborted) opts.onFailed(error);
    } finally {
      // Stopped before it was ready: whoever waits simply goes on.
      this.resolveReady();
    }
  }
}
