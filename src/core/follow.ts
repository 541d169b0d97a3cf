import { type BaseEvent, EventType } from "@ag-ui/core";
import { ERROR_CODES, type ReplayMode } from "../protocol.js";
import { type HistoryReset, replayFor, resetEvent } from "./compaction.js";
import { ThreadlineError } from "./errors.js";
import type { FanOut, LiveSink } from "./fanout.js";
import { batchWeight, type FollowItem, type LogBatch } from "./follow-item.js";
import { interruptOutcome } from "./interrupts.js";
import type { ReplayPage, ReplaySlot } from "./replay-pages.js";
import { snapshotRunId } from "./run-ids.js";
import { trackStoredRun } from "./run-log.js";
import { isTerminalEvent } from "./run-tracker.js";
import type { ThreadStore } from "./store.js";
import type { ThreadSummary, ThreadView } from "./types.js";

export type { FollowItem, FollowItemKind, LogBatch } from "./follow-item.js";

export interface FollowOptions {
  /** Cursor: deliver events with seq > after. Default 0. */
  after?: number;
  /** Default: `compact` when after is 0, `full` otherwise (`replayDefault`). */
  replay?: ReplayMode;
  /** false: end once the replay caught up with the log. Default true. */
  live?: boolean;
  /**
   * The store epoch the cursor was taken in (`ThreadStore.epoch`): a cursor from another epoch
   * is refused with EPOCH_MISMATCH rather than resumed in a log whose seqs mean something else.
   */
  epoch?: string;
  /** Bytes of undelivered live events kept per follower before it falls back to the store. */
  maxQueueBytes?: number;
  /**
   * What a queued batch weighs (its writer's bytes: the HTTP layer gives its SSE frames' size);
   * default: its events' JSON length. Called once per batch per follower; memoise it.
   */
  weigh?: (batch: LogBatch) => number;
  signal?: AbortSignal;
  /** Called once when the follow ends (for bookkeeping by its owner). */
  onClose?: () => void;
  /** Called each time the live queue overflows and the follower continues from the store. */
  onOverflow?: () => void;
}

const DEFAULT_MAX_QUEUE_BYTES = 1 << 20;

/**
 * The replay a follow gets when it names none, decided here only (the routes, the CopilotKit
 * policy and `Follow` ask): a cursor resumes with every event after it; no cursor (or 0) starts
 * with the compact snapshot.
 */
export function replayDefault(after: number | undefined): ReplayMode {
  return after !== undefined && after > 0 ? "full" : "compact";
}

/**
 * A follow stream of one thread: replay from the store, then the live tail, seamlessly.
 *
 * It attaches to the thread's live tail (`src/core/live-tail.ts`, which orders the batches) and
 * reads the store once the tail knows where it starts, so replay and live meet: live items the
 * replay already covered are skipped, the rest follow on. A follower too slow for the live tail
 * has its queue dropped once it exceeds `maxQueueBytes` and continues from the store — memory
 * stays bounded, the writer never waits, and nothing is skipped. (A live batch beyond
 * `cursor + 1` can only follow a compaction: the store read that it sends the follower to says.)
 */
export class Follow implements AsyncIterable<FollowItem>, LiveSink {
  readonly threadId: string;
  private cursor: number;
  private live: boolean;
  private readonly replay: ReplayMode;
  private readonly maxQueueBytes: number;
  private queue: LogBatch[] = [];
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
  private readonly weigh: (batch: LogBatch) => number;
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
  /** The thread's `createdAt`: its replay pages are not those of a deleted thread of that id. */
  private generation = 0;
  private lastSeqAtOpen = 0;
  /** This follower's place among the thread's replays while it reads pages (`readPage`). */
  private slot: ReplaySlot | undefined;
  /** The next replay page, asked for while the current one is written (see `readPage`). */
  private ahead: { after: number; page: Promise<ReplayPage> } | undefined;

  constructor(
    private readonly store: ThreadStore,
    private readonly fanout: FanOut,
    threadId: string,
    opts: FollowOptions = {},
  ) {
    this.threadId = threadId;
    this.cursor = Math.max(0, Math.floor(opts.after ?? 0));
    this.replay = opts.replay ?? replayDefault(this.cursor);
    this.live = opts.live ?? true;
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.onClose = opts.onClose;
    this.epoch = opts.epoch;
    this.onOverflow = opts.onOverflow;
    this.weigh = opts.weigh ?? batchWeight;
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
    try {
      if (this.live) {
        const attached = this.fanout.attach(this.threadId, this);
        this.detach = attached.detach;
        await attached.ready;
      }
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
      this.generation = thread.createdAt;
      this.lastSeqAtOpen = thread.lastSeq;
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
        // The last item of the prefix carries the cursor it stands for, so a client that
        // drops right after it resumes after the snapshot instead of starting over.
        all[all.length - 1]!.marksCursor = true;
        this.prefix = all;
      } else if (this.cursor > 0) {
        this.prefix = await this.reopenAt(this.cursor);
      }
      // A replay to read: other replays of the thread keep the pages this one has not reached.
      if (this.cursor < thread.lastSeq && !this.ended) {
        this.slot = this.fanout.pages.join(this.threadId, this.generation, this.cursor);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** LiveSink: called by the fan-out with each committed batch, in order. Never blocks. */
  push(batch: LogBatch): void {
    if (batch.last > this.highestSeen) this.highestSeen = batch.last;
    if (this.ended) return;
    if (this.lagging || batch.last <= this.cursor) {
      this.notify();
      return;
    }
    this.queue.push(batch);
    this.queueBytes += this.weigh(batch);
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
    // Runs never interleave and nothing comes between them: after any event but a run's
    // terminal one, a run is open. (Only the last item is looked at: a replay page's events
    // stay unparsed.)
    const last = items?.[items.length - 1];
    if (last) this.runOpen = !isTerminalEvent(last.event);
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
        let page: ReplayPage;
        try {
          page = await this.readPage();
        } catch (error) {
          // The store may notice the loss on this very read: end like every other follower.
          if (!ThreadlineError.is(error, "DATA_LOST")) throw error;
          this.lost ??= error;
          continue;
        }
        if (this.ended) return null;
        const batch = page.batch;
        if (batch && batch.first > this.cursor + 1) {
          // Compacted away while this follower was behind: it ends, and its reconnection from
          // the cursor gets the reset (PROTOCOL.md §2.9) rather than a silent gap.
          this.compacted = true;
          this.close();
          return null;
        }
        if (!page.full) {
          this.caughtUp = true;
          this.lagging = false;
          this.slot?.leave();
          this.slot = undefined;
        }
        // The page is one batch, shared with other replays of it: its bytes are made once.
        if (batch && batch.first === this.cursor + 1) {
          this.cursor = batch.last;
          if (page.full) this.readAhead();
          return batch.items as FollowItem[];
        }
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

  /** The page after the cursor: the one read ahead if it is that one, else read now. */
  private readPage(): Promise<ReplayPage> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead?.after === this.cursor) return ahead.page;
    this.slot ??= this.fanout.pages.join(this.threadId, this.generation, this.cursor);
    return this.slot.read(this.cursor, this.committed);
  }

  /** A seq known to be committed (pages up to it are complete). */
  private get committed(): number {
    return Math.max(this.lastSeqAtOpen, this.highestSeen);
  }

  /**
   * Asks for the page after this one while this one is written (the store reads while the
   * socket drains): one page ahead at most, so a follower that stops reading holds two pages.
   * Only a complete page: the log's tail is read when it is needed.
   */
  private readAhead(): void {
    const page = this.slot?.ahead(this.cursor, this.committed);
    if (!page) return;
    // Its failure is the next read's (`readPage` hands the same promise on); not unhandled.
    page.catch(() => undefined);
    this.ahead = { after: this.cursor, page };
  }

  /**
   * The queued live items from cursor + 1 on (the fan-out's own items: one object per event for
   * every follower); what the replay covered already is skipped.
   */
  private takeLive(): FollowItem[] {
    const queue = this.queue;
    let out: FollowItem[] = [];
    let i = 0;
    for (; i < queue.length; i++) {
      const batch = queue[i]!;
      // Beyond cursor + 1: only after a compaction; the store read the follower falls back to says.
      if (batch.first > this.cursor + 1) break;
      this.queueBytes -= this.weigh(batch);
      if (batch.last <= this.cursor) continue;
      const from = this.cursor + 1 - batch.first;
      const items = from === 0 ? batch.items : batch.items.slice(from);
      out = out.length === 0 ? (items as FollowItem[]) : out.concat(items);
      this.cursor = batch.last;
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
    // the store to its end once more, so nothing committed before `finish` is left out (not a
    // page read ahead earlier).
    this.caughtUp = false;
    this.ahead = undefined;
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
    return [{ seq: this.cursor, event, kind: "abort" }];
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.detach?.();
    this.onClose?.();
    this.queue = [];
    this.queueBytes = 0;
    this.ahead = undefined;
    this.slot?.leave();
    this.slot = undefined;
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
    return events.map((event) => ({ seq, runId: at.runId, event, kind: "reopen" as const }));
  }
}

const isView = (t: ThreadSummary | ThreadView): t is ThreadView => "messages" in t;

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
  return events.map((event) => ({ seq, event, kind: "snapshot" as const }));
}
