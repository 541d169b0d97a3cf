import { EventType } from "@ag-ui/core";
import type { FollowItem } from "../follow.js";
import { isTerminalEvent } from "../run-tracker.js";

/** What a CopilotKit stream does with one item of its follow. */
export type ItemVerdict = "emit" | "skip" | "emit-and-end" | "end";

type Mode = "follow" | "run" | "connect";

/**
 * The rule of one CopilotKit stream (`/agent/:id/run`, `/agent/:id/connect`, and the same two
 * calls of `ThreadlineAgentRunner`), as a per-item verdict. Pure: the stream (see `stream.ts`)
 * feeds it the follow's items and the runs it learns ended without writing anything.
 *
 * - `follow`: every item, never ends (the client asked to follow).
 * - `run`: only the client's run, up to its terminal event.
 * - `connect` (a stock client): the replay, then every run that was active **or queued** when the
 *   connect looked (`pending`) up to its terminal event, and whatever the log held then
 *   (`endSeq`). It ends at the first run boundary after all of that — never inside a run, so the
 *   stream is valid AG-UI — and emits nothing of a run that starts later.
 */
export class StreamPlan {
  private readonly pending: Set<string>;
  /** Pending runs whose RUN_STARTED (or its reopen) this stream delivered. */
  private readonly started = new Set<string>();
  private inRun = false;
  private finished = false;

  private constructor(
    private readonly mode: Mode,
    pending: Iterable<string>,
    private readonly endSeq: number,
    /** The log position delivered so far (what a snapshot summarises counts as delivered). */
    private delivered: number,
  ) {
    this.pending = new Set(pending);
  }

  static follow(): StreamPlan {
    return new StreamPlan("follow", [], Number.POSITIVE_INFINITY, 0);
  }

  static run(runId: string): StreamPlan {
    return new StreamPlan("run", [runId], 0, 0);
  }

  /**
   * @param pending runs active or queued when the connect looked (after attaching its follow)
   * @param endSeq the thread's last seq when it looked
   * @param start the log position the stream starts from (0 for a compact replay)
   */
  static connect(opts: { pending: Iterable<string>; endSeq: number; start: number }): StreamPlan {
    return new StreamPlan("connect", opts.pending, opts.endSeq, opts.start);
  }

  /** The stream has nothing more to show: it ends (before or after its last item). */
  get done(): boolean {
    if (this.finished) return true;
    if (this.mode === "follow") return false;
    return this.pending.size === 0 && this.delivered >= this.endSeq && !this.inRun;
  }

  /** Runs this stream waits for that have not started in it (they may end without writing). */
  unstarted(): string[] {
    return [...this.pending].filter((runId) => !this.started.has(runId));
  }

  decide(item: FollowItem): ItemVerdict {
    if (this.mode === "follow") return "emit";
    if (this.done) return "end";
    if (this.mode === "run" && item.runId === undefined) return "skip";
    if (this.mode === "run" && !this.pending.has(item.runId!)) return "skip";
    const { type } = item.event;
    if (type === EventType.RUN_STARTED) {
      this.inRun = true;
      if (item.runId !== undefined) this.started.add(item.runId);
    } else if (isTerminalEvent(item.event)) {
      this.inRun = false;
      if (item.kind === "event" && item.runId !== undefined) this.pending.delete(item.runId);
    }
    if (item.kind === "event" || (item.kind === "snapshot" && isTerminalEvent(item.event))) {
      this.delivered = Math.max(this.delivered, item.seq);
    }
    if (!this.done) return "emit";
    this.finished = true;
    return "emit-and-end";
  }

  /**
   * A pending run ended without a single event in the log (cancelled while queued, or its
   * process died before its RUN_STARTED committed). True when the stream can end now.
   */
  settle(runId: string): boolean {
    if (this.started.has(runId)) return false;
    this.pending.delete(runId);
    if (!this.done) return false;
    this.finished = true;
    return true;
  }
}
