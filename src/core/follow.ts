import { type BaseEvent, EventType } from "@ag-ui/core";
import {
  ERROR_CODES,
  type ReplayMode,
  SSE_EVENT_ABORT,
  SSE_EVENT_REOPEN,
  SSE_EVENT_SNAPSHOT,
} from "../protocol.js";
import { type HistoryReset, replayFor, resetEvent } from "./compaction.js";
import { ThreadlineError } from "./errors.js";
import { type FanOut, type LiveBatch, type LiveItem, type LiveSink, toLiveItem } from "./fanout.js";
import { interruptOutcome } from "./interrupts.js";
import { snapshotRunId } from "./run-ids.js";
import { trackStoredRun } from "./run-log.js";
import { isTerminalEvent } from "./run-tracker.js";
import { encodeFrame } from "./sse.js";
import type { ThreadStore } from "./store.js";
import type { ThreadSummary, ThreadView } from "./types.js";

/** `abort`: the synthetic RUN_ERROR that ends a run the store lost (see `Follow.dataLost`). */
export type FollowItemKind = "event" | "snapshot" | "reopen" | "abort";

export interface FollowItem {
  /** The log position this item represents (for synthetic items: the cursor they summarise). */
  seq: number;
  event: BaseEvent;
  kind: FollowItemKind;
  /** The run a log event belongs to (absent on snapshot items). */
  runId?: string;
  /** The item's SSE frame (shared bytes for log events). */
  frame: Uint8Array;
  /** Live items: the committed batch they came in (its frames as one shared chunk). */
  batch?: LiveBatch;
}

export interface FollowOptions {
  /** Cursor: deliver events with seq > after. Default 0. */
  after?: number;
  /** Default: `compact` when after is 0, `full` otherwise. */
  replay?: ReplayMode;
  /** false: end once the replay caught up with the log. Default true. */
  live?: boolean;
  /**
   * The store epoch the cursor was taken in (`ThreadStore.epoch`): a cursor from another epoch
   * is refused with EPOCH_MISMATCH rather than resumed in a log whose seqs mean something else.
   */
  epoch?: string;
  /** Bytes of undelivered live frames kept per follower before it falls back to the store. */
  maxQueueBytes?: number;
  signal?: AbortSignal;
  /** Called once when the follow ends (for bookkeeping by its owner). */
  onClose?: () => void;
  /** Called each time the live queue overflows and the follower continues from the store. */
  onOverflow?: () => void;
}

const PAGE = 1000;
const DEFAULT_MAX_QUEUE_BYTES = 1 << 20;

/**
 * A follow stream of one thread: replay from the store, then the live tail, seamlessly.
 *
 * It attaches to the live fan-out *before* reading the store, and from then on delivers strictly
 * `cursor + 1`: a live item at or below the cursor is a duplicate and dropped, a live item beyond
 * `cursor + 1` reveals a hole and the store fills it. A follower too slow for the live tail has its
 * queue dropped once it exceeds `maxQueueBytes` and continues from the store — memory stays
 * bounded, the writer never waits, and nothing is skipped.
 */
export class Follow implements AsyncIterable<FollowItem>, LiveSink {
  readonly threadId: string;
  private cursor: number;
  private live: boolean;
  private readonly replay: ReplayMode;
  private readonly maxQueueBytes: number;
  private queue: LiveItem[] = [];
  private queueBytes = 0;
  private lagging = false;
  /** Highest seq announced live, even while lagging: tells the follower the store has more. */
  private highestSeen = 0;
  private prefix: FollowItem[] = [];
  private started = false;
  private caughtUp = false;
  private ended = false;
  private wake: (() => void) | undefined;
  /** A push or close came while nobody waited: the next wait must not sleep through it. */
  private signalled = false;
  private detach: (() => void) | undefined;
  private readonly onClose: (() => void) | undefined;
  private readonly epoch: string | undefined;
  private readonly onOverflow: (() => void) | undefined;
  /** The run that was in progress where the stream started (it was re-opened), if any. */
  activeRunAtOpen: string | undefined;
  /** Number of times the live queue overflowed and the follower fell back to the store. */
  overflows = 0;
  /** The stream ended because its thread was deleted (see `threadDeleted`). */
  deleted = false;
  /**
   * Set when the cursor asked for was before the thread's compaction horizon: the stream starts
   * with a reset snapshot instead of the history (PROTOCOL.md §2.9).
   */
  reset: HistoryReset | undefined;
  /** The stream ended because the events after its cursor were compacted away while it lagged. */
  compacted = false;
  /** The stream ended because the store lost its data (see `dataLost`). */
  lost: ThreadlineError | undefined;
  /** The items handed out so far leave a run open (a RUN_STARTED without its terminal event). */
  private runOpen = false;

  constructor(
    private readonly store: ThreadStore,
    private readonly fanout: FanOut,
    threadId: string,
    opts: FollowOptions = {},
  ) {
    this.threadId = threadId;
    this.cursor = Math.max(0, Math.floor(opts.after ?? 0));
    this.replay = opts.replay ?? (this.cursor === 0 ? "compact" : "full");
    this.live = opts.live ?? true;
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.onClose = opts.onClose;
    this.epoch = opts.epoch;
    this.onOverflow = opts.onOverflow;
    opts.signal?.addEventListener("abort", () => this.close(), { once: true });
    if (opts.signal?.aborted) this.close();
  }

  /** The seq of the last log event delivered (or summarised by a snapshot). */
  get position(): number {
    return this.cursor;
  }

  /**
   * Attaches and prepares the replay. Throws THREAD_NOT_FOUND for an unknown thread and
   * BAD_REQUEST for a cursor beyond the log. Called by the first `next()` if not called before.
   */
  async open(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.live) this.detach = this.fanout.attach(this.threadId, this);
    try {
      const current = this.store.epoch;
      if (this.cursor > 0 && this.epoch && current !== undefined && this.epoch !== current) {
        throw new ThreadlineError(
          "EPOCH_MISMATCH",
          `cursor ${this.cursor} belongs to epoch ${this.epoch} of the store, which lost its data; ` +
            `this is epoch ${current}: follow again without a cursor`,
          { details: { epoch: current } },
        );
      }
      // Only a compact replay needs the messages and state: the others read the head alone.
      const threads = this.store.threads;
      let thread: ThreadSummary | ThreadView | null =
        this.replay === "compact"
          ? await threads.get(this.threadId)
          : await threads.head(this.threadId);
      if (!thread) {
        throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${this.threadId}'`);
      }
      if (this.cursor > thread.lastSeq) {
        throw new ThreadlineError(
          "BAD_REQUEST",
          `cursor ${this.cursor} is beyond the end of thread '${this.threadId}' (last seq ${thread.lastSeq})`,
          { details: { lastSeq: thread.lastSeq } },
        );
      }
      if (replayFor(this.cursor, this.replay, thread.horizon) === "reset") {
        // The history after the cursor is gone: a snapshot that says so, never a silent gap.
        // (A compact replay has read the view already; the others read the head alone.)
        if (!isView(thread)) thread = await threads.get(this.threadId);
        if (!thread)
          throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${this.threadId}'`);
        this.reset = { after: this.cursor, horizon: thread.horizon, seq: thread.lastSeq };
      }
      if (this.replay === "none") {
        this.cursor = thread.lastSeq;
        this.prefix = await this.reopenAt(this.cursor);
      } else if (isView(thread) && thread.lastSeq > 0) {
        this.cursor = thread.lastSeq;
        const snap = snapshotRun(thread, this.reset);
        const all = [...snap, ...(await this.reopenAt(this.cursor))];
        // The last frame of the prefix carries the cursor it stands for, so a client that
        // drops right after it resumes after the snapshot instead of starting over.
        const last = all[all.length - 1]!;
        last.frame = encodeFrame(last.event, { id: last.seq, name: frameName(last.kind) });
        this.prefix = all;
      } else if (this.cursor > 0) {
        this.prefix = await this.reopenAt(this.cursor);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** LiveSink: called by the fan-out with committed items. Never blocks. */
  push(items: readonly LiveItem[]): void {
    const last = items[items.length - 1];
    if (last && last.seq > this.highestSeen) this.highestSeen = last.seq;
    if (this.ended) return;
    if (this.lagging) {
      this.notify();
      return;
    }
    for (const item of items) {
      this.queue.push(item);
      this.queueBytes += item.frame.byteLength;
    }
    if (this.queueBytes > this.maxQueueBytes) {
      // Too slow for the live tail: drop the queue, continue from the store.
      this.queue = [];
      this.queueBytes = 0;
      this.lagging = true;
      this.overflows += 1;
      this.onOverflow?.();
    }
    this.notify();
  }

  /**
   * Resolves once this follower was handed every event up to `seq` (or it ended), or after
   * `timeoutMs` (a follower that stopped reading must not hold anyone up). A thread's deletion
   * waits for it, so followers get the end of the cancelled run before the log goes.
   */
  delivered(seq: number, timeoutMs: number): Promise<void> {
    if (this.cursor >= seq || this.ended) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        if (this.cursor < seq && !this.ended && Date.now() < deadline) return;
        clearTimeout(timer);
        this.progress.delete(done);
        resolve();
      };
      const deadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => {
        this.progress.delete(done);
        resolve();
      }, timeoutMs);
      timer.unref?.();
      this.progress.add(done);
    });
  }
  private readonly progress = new Set<() => void>();

  /** Next items available (waits for at least one); null when the stream ended. */
  async nextBatch(): Promise<FollowItem[] | null> {
    const items = await this.nextItems();
    if (items) {
      for (const item of items) {
        if (item.event.type === EventType.RUN_STARTED) this.runOpen = true;
        else if (isTerminalEvent(item.event)) this.runOpen = false;
      }
    }
    for (const waiter of [...this.progress]) waiter();
    return items;
  }

  private async nextItems(): Promise<FollowItem[] | null> {
    if (!this.started) await this.open();
    for (;;) {
      // Cleared before looking, so a push during the store read below (which cannot see that
      // batch) is not slept through: it queued items or revealed a hole nobody would wake for.
      this.signalled = false;
      if (this.ended) return null;
      if (this.lost) return this.endLost();
      if (this.prefix.length > 0) {
        const out = this.prefix;
        this.prefix = [];
        return out;
      }
      const live = this.takeLive();
      if (live.length > 0) return live;
      if (!this.caughtUp || this.lagging || this.highestSeen > this.cursor) {
        let page: Awaited<ReturnType<ThreadStore["threads"]["read"]>>;
        try {
          page = await this.store.threads.read(this.threadId, { after: this.cursor, limit: PAGE });
        } catch (error) {
          // The store may notice the loss on this very read: end like every other follower.
          if (!ThreadlineError.is(error, "DATA_LOST")) throw error;
          this.lost ??= error;
          continue;
        }
        if (this.ended) return null;
        if (page[0] && page[0].seq > this.cursor + 1) {
          // Compacted away while this follower was behind: it ends, and its reconnection from
          // the cursor gets the reset (PROTOCOL.md §2.9) rather than a silent gap.
          this.compacted = true;
          this.close();
          return null;
        }
        if (page.length < PAGE) {
          this.caughtUp = true;
          this.lagging = false;
        }
        const out: FollowItem[] = [];
        for (const r of page) {
          if (r.seq !== this.cursor + 1) break;
          this.cursor = r.seq;
          out.push(toLiveItem(r));
        }
        if (out.length > 0) return out;
        if (!this.live && this.caughtUp) {
          this.close();
          return null;
        }
        if (!(this.caughtUp && this.highestSeen > this.cursor)) continue;
        // Announced but not readable yet: wait for the next announcement rather than spin.
      } else if (!this.live) {
        this.close();
        return null;
      }
      if (this.signalled) continue;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Consecutive live items from cursor + 1 on; drops duplicates at or below the cursor. */
  private takeLive(): FollowItem[] {
    const out: FollowItem[] = [];
    const queue = this.queue;
    // Index, then one slice: shift() per item is O(queue) for large queues.
    let i = 0;
    for (; i < queue.length; i++) {
      const item = queue[i]!;
      if (item.seq > this.cursor + 1) break;
      this.queueBytes -= item.frame.byteLength;
      if (item.seq <= this.cursor) continue;
      this.cursor = item.seq;
      // The fan-out's item itself: one object per event for all followers, not one each.
      out.push(item);
    }
    if (i > 0) this.queue = i === queue.length ? [] : queue.slice(i);
    return out;
  }

  /** Iteration ends by throwing `DATA_LOST` when the store lost its data. */
  async next(): Promise<IteratorResult<FollowItem>> {
    const batch = this.pending.length > 0 ? null : await this.nextBatch();
    if (batch) this.pending.push(...batch);
    const item = this.pending.shift();
    if (item) return { value: item, done: false };
    if (this.lost) throw this.lost;
    return { value: undefined, done: true };
  }
  private pending: FollowItem[] = [];

  [Symbol.asyncIterator](): AsyncIterator<FollowItem> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Ends the stream gracefully: everything committed so far is delivered, then it ends. */
  finish(): void {
    this.live = false;
    this.detach?.();
    // A commit's announcement may still be on its way (PostgreSQL NOTIFY, Redis pub/sub): read
    // the store to its end once more, so nothing committed before `finish` is left out.
    this.caughtUp = false;
    this.notify();
  }

  /**
   * The thread was deleted: what is already queued for this follower goes out, then the stream
   * ends (with `deleted` set, so the HTTP layer can tell the client why).
   */
  threadDeleted(): void {
    if (this.ended) return;
    this.deleted = true;
    this.finish();
  }

  /**
   * The store lost its data (`DATA_LOST`): what is already queued for this follower goes out
   * (it was committed and delivered to others), the run it holds open gets a synthetic RUN_ERROR
   * (`abort`), then the stream ends with `lost` set — nothing is read from the store again.
   */
  dataLost(error: ThreadlineError): void {
    if (this.ended || this.lost) return;
    this.lost = error;
    this.live = false;
    this.detach?.();
    this.notify();
  }

  private endLost(): FollowItem[] | null {
    const queued = this.takeLive();
    if (queued.length > 0) return queued;
    const open = this.runOpen;
    this.close();
    if (!open) return null;
    const event = {
      type: EventType.RUN_ERROR,
      code: ERROR_CODES.dataLost,
      message: this.lost?.message ?? "the store lost its data",
    } as BaseEvent;
    return [
      {
        seq: this.cursor,
        event,
        kind: "abort",
        frame: encodeFrame(event, { name: SSE_EVENT_ABORT }),
      },
    ];
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.detach?.();
    this.onClose?.();
    this.queue = [];
    this.queueBytes = 0;
    this.notify();
    for (const waiter of [...this.progress]) waiter();
  }

  get closed(): boolean {
    return this.ended;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    if (w) w();
    else this.signalled = true;
  }

  /**
   * When `seq` falls inside a run (the run started at or before it and had not ended), the
   * events that re-open it: its RUN_STARTED and a START for every construct still open.
   */
  private async reopenAt(seq: number): Promise<FollowItem[]> {
    if (seq === 0) return [];
    const [at] = await this.store.threads.read(this.threadId, { after: seq - 1, limit: 1 });
    // Not the event at `seq`: compacted, so a terminal one (a horizon is a run's end).
    if (!at || at.seq !== seq || isTerminalEvent(at.event)) return [];
    const run = await this.store.runs.get(this.threadId, at.runId);
    const tracker = await trackStoredRun(
      this.store,
      this.threadId,
      at.runId,
      run?.startSeq ?? at.seq,
      seq,
    );
    if (!tracker.isOpen || !tracker.runStarted) return [];
    this.activeRunAtOpen = at.runId;
    const events = [tracker.runStarted, ...tracker.reopenEvents()];
    return events.map((event) => ({
      seq,
      runId: at.runId,
      event,
      kind: "reopen" as const,
      frame: encodeFrame(event, { name: SSE_EVENT_REOPEN }),
    }));
  }
}

const isView = (t: ThreadSummary | ThreadView): t is ThreadView => "messages" in t;

function frameName(kind: FollowItemKind): string | undefined {
  return kind === "snapshot"
    ? SSE_EVENT_SNAPSHOT
    : kind === "reopen"
      ? SSE_EVENT_REOPEN
      : undefined;
}

/**
 * The compact replay: the thread's messages, state and pending interrupts as one self-contained
 * AG-UI run; a reset (PROTOCOL.md §2.9) says so with its CUSTOM event right after the RUN_STARTED.
 */
function snapshotRun(thread: ThreadView, reset: HistoryReset | undefined): FollowItem[] {
  const { threadId, lastSeq: seq } = thread;
  const runId = snapshotRunId(seq);
  const events = [
    { type: EventType.RUN_STARTED, threadId, runId },
    ...(reset ? [resetEvent(reset)] : []),
    { type: EventType.MESSAGES_SNAPSHOT, messages: thread.messages },
    { type: EventType.STATE_SNAPSHOT, snapshot: thread.state ?? {} },
    {
      type: EventType.RUN_FINISHED,
      threadId,
      runId,
      // Pending interrupts, in AG-UI's terms: the snapshot run ends the way the run that raised
      // them did, so a client attaching now knows what the thread waits for (PROTOCOL.md §3.1).
      ...(thread.interrupts?.length ? { outcome: interruptOutcome(thread.interrupts) } : {}),
    },
  ] as BaseEvent[];
  return events.map((event) => ({
    seq,
    event,
    kind: "snapshot" as const,
    frame: encodeFrame(event, { name: SSE_EVENT_SNAPSHOT }),
  }));
}
