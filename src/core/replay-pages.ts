import { type LogBatch, textBatch } from "./follow-item.js";
import type { ThreadStore } from "./store.js";

/** Events per replay page: large, so a long replay is a few big reads and big writes. */
export const REPLAY_PAGE = 5000;
/** At most this many complete pages are kept (each ~1 MiB with its frames). */
const KEPT_PAGES = 8;

/** One page of a thread's log after a cursor, as read from the store. */
export interface ReplayPage {
  /** The page's events, one batch (null: none after the cursor). */
  readonly batch: LogBatch | null;
  /** The page holds every row it asked for: the log may go on after it. */
  readonly full: boolean;
}

/** One replay's place among the replays of its thread (see `ReplayPages.join`). */
export interface ReplaySlot {
  /**
   * The page after `after` (up to the next multiple of `REPLAY_PAGE`). `committed`: a seq the
   * caller knows is committed. Only a page that ends at or before it is shared: it is complete
   * whenever it is read. Any other page (the log's tail) is read afresh for this caller, so it
   * sees every commit that made it ask (a read begun earlier by someone else might not).
   */
  read(after: number, committed: number): Promise<ReplayPage>;
  /**
   * The same page, to read ahead of need: only a complete one (undefined for the log's tail,
   * which read early could lack the commits its reader will wait for).
   */
  ahead(after: number, committed: number): Promise<ReplayPage> | undefined;
  /** This replay caught up or ended: pages kept for it alone go. */
  leave(): void;
}

interface Entry {
  readonly thread: string;
  readonly after: number;
  readonly page: Promise<ReplayPage>;
  /** Read, and complete (only such an entry outlives its read). */
  complete: boolean;
}

/**
 * The replay pages of this process's followers: a thread's log read as stored text
 * (`ThreadLog.readText`, never parsed) in pages aligned to multiples of `REPLAY_PAGE`, so
 * replays of the same range ask for the same pages whatever cursor they started from. Each page
 * is one `LogBatch`, so its SSE bytes are made once for every replay that gets it
 * (`src/http/sse-frames.ts` keys them by the batch).
 *
 * A page being read is shared with every replay that asks for it meanwhile, and a complete page
 * is kept while another replay of the thread has not reached it yet (up to `KEPT_PAGES`): a
 * lone replay keeps nothing (held pages would outlive the young generation and cost the
 * collector more than the read), concurrent replays read each page once. A complete page never
 * changes: its events are committed and its range is closed (a compaction only removes it, so
 * one kept stands for history that existed, never a gap). `generation` (the thread's
 * `createdAt`) tells a thread deleted and created again apart; `forget` drops a deleted one's.
 */
export class ReplayPages {
  private readonly pages = new Map<string, Entry>();
  /** Per thread and generation: where each replay in progress reads next. */
  private readonly readers = new Map<string, Map<object, number>>();

  constructor(private readonly store: ThreadStore) {}

  /** A replay of the thread starting after `next`. */
  join(threadId: string, generation: number, next: number): ReplaySlot {
    const thread = `${threadId}\0${generation}`;
    const me = {};
    let readers = this.readers.get(thread);
    if (!readers) {
      readers = new Map();
      this.readers.set(thread, readers);
    }
    readers.set(me, next);
    const read = (after: number, committed: number): Promise<ReplayPage> => {
      const limit = REPLAY_PAGE - (after % REPLAY_PAGE);
      if (after + limit > committed) return this.readText(threadId, after, limit);
      this.readers.get(thread)?.set(me, after + limit);
      const page = this.shared(thread, threadId, after, limit);
      this.prune(thread);
      return page;
    };
    return {
      read,
      ahead: (after, committed) =>
        after + REPLAY_PAGE - (after % REPLAY_PAGE) > committed
          ? undefined
          : read(after, committed),
      leave: () => {
        const r = this.readers.get(thread);
        if (!r?.delete(me)) return;
        if (r.size === 0) this.readers.delete(thread);
        this.prune(thread);
      },
    };
  }

  /** The thread was deleted: its pages go now. */
  forget(threadId: string): void {
    // (An id holding NUL could match another thread's pages too: dropping those costs a read.)
    const prefix = `${threadId}\0`;
    for (const [key, e] of this.pages) if (e.thread.startsWith(prefix)) this.pages.delete(key);
  }

  /** Pages kept or being read (for tests and metrics). */
  get size(): number {
    return this.pages.size;
  }

  private shared(thread: string, threadId: string, after: number, limit: number) {
    const key = `${thread}:${after}`;
    const known = this.pages.get(key);
    if (known) return known.page;
    const page = this.readText(threadId, after, limit);
    const entry: Entry = { thread, after, page, complete: false };
    this.pages.set(key, entry);
    const settled = (complete: boolean) => {
      if (this.pages.get(key) !== entry) return;
      entry.complete = complete;
      // Not complete after all (compacted meanwhile) or failed: not kept.
      if (complete) this.prune(thread);
      else this.pages.delete(key);
    };
    page.then(
      (p) => settled(p.full),
      () => settled(false),
    );
    return page;
  }

  /** Drops the thread's read pages that no replay of it still needs, and the oldest beyond the cap. */
  private prune(thread: string): void {
    let lowest = Number.POSITIVE_INFINITY;
    for (const next of this.readers.get(thread)?.values() ?? []) lowest = Math.min(lowest, next);
    let kept = 0;
    for (const [key, e] of this.pages) {
      if (!e.complete) continue;
      if (e.thread === thread && e.after < lowest) this.pages.delete(key);
      else kept++;
    }
    for (const [key, e] of this.pages) {
      if (kept <= KEPT_PAGES) return;
      if (!e.complete) continue;
      this.pages.delete(key);
      kept--;
    }
  }

  private async readText(threadId: string, after: number, limit: number): Promise<ReplayPage> {
    const texts = await this.store.threads.readText(threadId, { after, limit });
    return {
      batch: texts.length > 0 ? textBatch(threadId, texts) : null,
      full: texts.length >= limit,
    };
  }
}
