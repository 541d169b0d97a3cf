import type { BaseEvent } from "@ag-ui/core";
import type { Follow, FollowItem } from "../follow.js";
import type { ThreadStore } from "../store.js";
import { type RunRecord, TERMINAL_RUN_STATUSES } from "../types.js";
import type { StreamPlan } from "./plan.js";

/**
 * How often a stream waiting for a run that has not started looks whether that run ended
 * without writing anything (cancelled while queued, its process died before RUN_STARTED): such
 * an ending leaves nothing in the log for the follow to see.
 */
const RECHECK_MS = 250;

/** Events a run stream shows for its run when the run ended without a trace in the log. */
export type SilentEnding = (run: RunRecord | null) => BaseEvent[];

/**
 * A CopilotKit stream: a follow cut and filtered by its `StreamPlan`. Read like a follow
 * (`nextBatch` / `close`), so the HTTP routes write it as SSE and the runner turns it into an
 * Observable, with the same items either way.
 */
export class CopilotStream {
  private synthetic: FollowItem[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly follow: Follow,
    private readonly plan: StreamPlan,
    private readonly store: ThreadStore,
    private readonly silentEnding?: SilentEnding,
  ) {
    this.scheduleRecheck();
  }

  /** The next items to show (waits for at least one); null when the stream ended. */
  async nextBatch(): Promise<FollowItem[] | null> {
    for (;;) {
      if (this.synthetic.length > 0) {
        const out = this.synthetic;
        this.synthetic = [];
        return out;
      }
      if (this.ended) return null;
      const batch = await this.follow.nextBatch();
      if (!batch) {
        // The follow ended: closed by a recheck (which may have queued a synthetic ending), by
        // the client going away, or by a shutdown.
        if (this.synthetic.length > 0) continue;
        this.close();
        return null;
      }
      const out: FollowItem[] = [];
      let end = false;
      for (const item of batch) {
        const verdict = this.plan.decide(item);
        if (verdict === "emit" || verdict === "emit-and-end") out.push(item);
        if (verdict === "emit-and-end" || verdict === "end") {
          end = true;
          break;
        }
      }
      if (end) this.close();
      if (out.length > 0) return out;
      if (end) return null;
    }
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.follow.close();
  }

  private scheduleRecheck(): void {
    if (this.ended || this.plan.unstarted().length === 0) return;
    this.timer = setTimeout(() => void this.recheck(), RECHECK_MS);
    this.timer.unref();
  }

  private async recheck(): Promise<void> {
    this.timer = undefined;
    try {
      for (const runId of this.plan.unstarted()) {
        const run = await this.store.runs.get(this.follow.threadId, runId);
        if (this.ended) return;
        const silent =
          !run || (TERMINAL_RUN_STATUSES.has(run.status) && run.startSeq === undefined);
        if (silent && this.plan.settle(runId)) {
          const events = this.silentEnding?.(run) ?? [];
          this.synthetic = events.map((event) => ({ seq: 0, event, kind: "ending", runId }));
          // Wakes the pending nextBatch, which hands out the synthetic ending, then ends.
          this.ended = true;
          this.follow.close();
          return;
        }
      }
    } catch {
      // A store hiccup: look again next time.
    }
    this.scheduleRecheck();
  }
}
