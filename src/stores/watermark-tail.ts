import type { AppendListener, Unsubscribe } from "../core/store.js";
import type { EventRecord } from "../core/types.js";
import { ListenerRegistry } from "./listeners.js";

const PAGE = 1000;
/** Threads whose watermark is kept after their last subscriber left (see `retire`). */
const MAX_RETAINED = 1000;
const RETRY_MS = 1000;

/**
 * The announcement of a commit: `first:last:threadId` (the id last, as it may hold ':'). The
 * Redis append script builds the same text in Lua.
 */
export function announcement(threadId: string, first: number, last: number): string {
  return `${first}:${last}:${threadId}`;
}

export function parseAnnouncement(
  payload: string,
): { threadId: string; first: number; last: number } | null {
  const m = /^(\d+):(\d+):([\s\S]*)$/.exec(payload);
  return m ? { first: Number(m[1]), last: Number(m[2]), threadId: m[3]! } : null;
}

/** What the tail needs of a shared store: committed records and a thread's current end. */
export interface TailSource {
  read(threadId: string, after: number, limit: number): Promise<EventRecord[]>;
  lastSeq(threadId: string): Promise<number>;
}

interface ThreadTail {
  /** Last seq handed to the listeners; undefined until the first commit after subscribing. */
  delivered: number | undefined;
  /** The thread's end when it was first subscribed: the start point if notices were lost. */
  floor: number | undefined;
  resync: boolean;
  reading: boolean;
  again: boolean;
}

/**
 * Live delivery for stores shared by several processes (PostgreSQL, Redis): every commit is
 * announced on one channel as `(threadId, firstSeq, lastSeq)`; the tail reads the announced
 * records from the store and hands them to this process's subscribers.
 *
 * The channel is listened to from the moment the store opens, and announcements arrive in commit
 * order, so "every commit after `subscribe()`" is exactly "every announcement handled after it":
 * the first announcement of a thread sets its watermark to `firstSeq - 1`, and from then on each
 * listener gets a contiguous run of seqs — never twice, never out of order. A local commit with
 * the watermark right below it is delivered at once, without a read; anything else is read from
 * the store starting at the watermark. After the channel reconnects (announcements may have been
 * lost), every subscribed thread is read from its watermark.
 */
export class WatermarkTail {
  private readonly listeners = new ListenerRegistry();
  private readonly threads = new Map<string, ThreadTail>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly source: TailSource,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    let st = this.threads.get(threadId);
    if (!st) {
      st = { delivered: undefined, floor: undefined, resync: false, reading: false, again: false };
      this.threads.set(threadId, st);
      this.readFloor(threadId, st);
    }
    const off = this.listeners.add(threadId, listener);
    return () => {
      off();
      if (!this.listeners.has(threadId)) this.retire(threadId);
    };
  }

  /** An announcement from the channel: `first..last` of `threadId` committed. */
  announced(threadId: string, first: number, last: number): void {
    const st = this.threads.get(threadId);
    if (!st) return;
    if (st.delivered === undefined) st.delivered = first - 1;
    if (last <= st.delivered) return;
    if (!this.listeners.has(threadId)) {
      // Retained without subscribers: only track where the thread is.
      st.delivered = last;
      return;
    }
    void this.catchUp(threadId, st);
  }

  /** Records this process just committed (ascending, contiguous). */
  committed(threadId: string, records: readonly EventRecord[]): void {
    const st = this.threads.get(threadId);
    const first = records[0];
    // Before the first announcement we cannot tell what was missed: the announcement decides.
    if (!st || st.delivered === undefined || !first || !this.listeners.has(threadId)) return;
    if (!st.reading && first.seq <= st.delivered + 1) this.deliver(threadId, st, records);
    else if (records[records.length - 1]!.seq > st.delivered) void this.catchUp(threadId, st);
  }

  /** The channel reconnected: announcements may have been lost, so read every thread's tail. */
  reconnected(): void {
    for (const [threadId, st] of this.threads) {
      if (!this.listeners.has(threadId)) {
        // Its watermark may be stale now; a later subscriber starts afresh.
        this.threads.delete(threadId);
        continue;
      }
      if (st.delivered === undefined) st.delivered = st.floor;
      if (st.delivered === undefined) st.resync = true;
      else void this.catchUp(threadId, st);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.threads.clear();
    this.listeners.clear();
  }

  private readFloor(threadId: string, st: ThreadTail): void {
    this.source.lastSeq(threadId).then(
      (seq) => {
        st.floor = seq;
        if (st.resync && st.delivered === undefined) {
          st.resync = false;
          st.delivered = seq;
          void this.catchUp(threadId, st);
        }
      },
      (error) => this.onError(error),
    );
  }

  private live(threadId: string, st: ThreadTail): boolean {
    return !this.closed && this.threads.get(threadId) === st && this.listeners.has(threadId);
  }

  /** Reads from the watermark until a short page; one reader per thread at a time. */
  private async catchUp(threadId: string, st: ThreadTail): Promise<void> {
    if (st.reading) {
      st.again = true;
      return;
    }
    st.reading = true;
    try {
      do {
        st.again = false;
        for (;;) {
          if (!this.live(threadId, st) || st.delivered === undefined) return;
          const page = await this.source.read(threadId, st.delivered, PAGE);
          this.deliver(threadId, st, page);
          if (page.length < PAGE) break;
        }
      } while (st.again);
    } catch (error) {
      // The store is briefly unreachable: try again later rather than lose the tail.
      this.onError(error);
      this.retry(threadId, st);
    } finally {
      st.reading = false;
    }
  }

  private retry(threadId: string, st: ThreadTail): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.catchUp(threadId, st);
    }, RETRY_MS);
    timer.unref();
    this.timers.add(timer);
  }

  private deliver(threadId: string, st: ThreadTail, records: readonly EventRecord[]): void {
    if (!this.live(threadId, st)) return;
    const done = st.delivered ?? 0;
    const fresh = records.filter((r) => r.seq > done);
    const last = fresh[fresh.length - 1];
    if (!last) return;
    st.delivered = last.seq;
    this.listeners.emit(threadId, fresh);
  }

  /**
   * The last subscriber left. The watermark stays (tracked from announcements alone) so that an
   * announcement still in flight for a commit the old subscribers already got is not delivered
   * again to a new one. Bounded: the oldest idle threads are forgotten first.
   */
  private retire(threadId: string): void {
    const st = this.threads.get(threadId);
    if (!st) return;
    // Move to the end: the map's order is the order threads went idle.
    this.threads.delete(threadId);
    this.threads.set(threadId, st);
    if (this.threads.size <= MAX_RETAINED) return;
    for (const [id] of this.threads) {
      if (this.threads.size <= MAX_RETAINED) break;
      if (!this.listeners.has(id)) this.threads.delete(id);
    }
  }
}
