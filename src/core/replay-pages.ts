import { type LogBatch, textBatch } from "./follow-item.js";
import type { ThreadStore } from "./store.js";

/** Events per replay page: large, so a long replay is a few big reads and big writes. */
export const REPLAY_PAGE = 5000;
/** Complete pages kept for replays that follow close behind (each ~1 MiB with its frames). */
const KEPT_PAGES = 4;

/** One page of a thread's log after a cursor, as read from the store. */
export interface ReplayPage {
  /** The page's events, one batch (null: none after the cursor). */
  readonly batch: LogBatch | null;
  /** The page holds every row it asked for: the log may go on after it. */
  readonly full: boolean;
}

/**
 * The replay pages of this process's followers: a thread's log read as stored text
 * (`ThreadLog.readText`, never parsed) in pages aligned to multiples of `REPLAY_PAGE`, so
 * replays of the same range ask for the same pages whatever cursor they started from.
 * Followers asking for a page being read share that read, and the last few complete pages are
 * kept: each page becomes one `LogBatch`, so its SSE bytes are made once for every replay of it
 * (`src/http/sse-frames.ts` keys them by the batch). A complete page never changes: its events
 * are committed and the range is closed (a compaction only removes it, so one kept stands for
 * history that existed, never a gap). The log's tail is never shared. `generation` tells a
 * thread deleted and created again apart (its seqs start over); `forget` drops a deleted one's.
 */
export class ReplayPages {
  private readonly pages = new Map<string, Promise<ReplayPage>>();

  constructor(private readonly store: ThreadStore) {}

  /**
   * The page after `after` (up to the next multiple of `REPLAY_PAGE`). `committed`: a seq the
   * caller knows is committed. Only a page that ends at or before it is shared: it is complete
   * whenever it is read. Any other page is read afresh for this caller, so it sees every commit
   * that made it ask (a read begun earlier by someone else might not).
   */
  read(
    threadId: string,
    generation: number,
    after: number,
    committed: number,
  ): Promise<ReplayPage> {
    const limit = REPLAY_PAGE - (after % REPLAY_PAGE);
    if (after + limit > committed) return this.readText(threadId, after, limit);
    const key = `${threadId}\0${generation}:${after}`;
    const known = this.pages.get(key);
    if (known) {
      // Most recently used last: the oldest page goes first.
      this.pages.delete(key);
      this.pages.set(key, known);
      return known;
    }
    const page = this.readText(threadId, after, limit);
    this.pages.set(key, page);
    const drop = () => {
      if (this.pages.get(key) === page) this.pages.delete(key);
    };
    // Not complete after all (compacted meanwhile): not kept.
    page.then((p) => {
      if (!p.full) drop();
    }, drop);
    this.evict();
    return page;
  }

  /**
   * The page after `after` to read ahead of need, when it is complete (ends at or before
   * `committed`); undefined for the log's tail, which read early could lack the commits its
   * reader will wait for.
   */
  ahead(
    threadId: string,
    generation: number,
    after: number,
    committed: number,
  ): Promise<ReplayPage> | undefined {
    if (after + REPLAY_PAGE - (after % REPLAY_PAGE) > committed) return undefined;
    return this.read(threadId, generation, after, committed);
  }

  /** The thread was deleted: its pages go now rather than when newer ones push them out. */
  forget(threadId: string): void {
    // (An id holding NUL could match another thread's pages too: dropping those costs a read.)
    const prefix = `${threadId}\0`;
    for (const key of [...this.pages.keys()]) if (key.startsWith(prefix)) this.pages.delete(key);
  }

  private async readText(threadId: string, after: number, limit: number): Promise<ReplayPage> {
    const texts = await this.store.threads.readText(threadId, { after, limit });
    return {
      batch: texts.length > 0 ? textBatch(threadId, texts) : null,
      full: texts.length >= limit,
    };
  }

  private evict(): void {
    for (const key of this.pages.keys()) {
      if (this.pages.size <= KEPT_PAGES) return;
      this.pages.delete(key);
    }
  }
}
