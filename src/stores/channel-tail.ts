import type { CommitListener, RunStartListener, Unsubscribe } from "../core/store.js";
import type { EventRecord } from "../core/types.js";
import { parseAnnouncement } from "./announcement.js";
import { CommitListeners } from "./commit-listeners.js";
import { parseRunStartPayload, RunStartListeners } from "./run-start-notice.js";

/** What a shared store's channel needs of the store: a thread's current end. */
export interface TailSource {
  lastSeq(threadId: string): Promise<number>;
}

/**
 * The live side of a store shared by several processes: every message heard on the store's
 * commit channel (PostgreSQL NOTIFY, Redis PUBLISH) is a commit announcement, passed on to the
 * thread's listeners as a `CommitNotice` (the core live tail reads the records), or a run-start
 * notice. A local commit is announced at once, with its records. Backends add only how they
 * listen.
 */
export abstract class ChannelTail {
  private readonly listeners = new CommitListeners();
  /** Threads with a local append in flight, and the highest seq the channel announced meanwhile. */
  private readonly local = new Map<string, { pending: number; heard: number; told: number }>();
  protected readonly runStarts = new RunStartListeners();
  private stopped = false;

  constructor(
    private readonly source: TailSource,
    private readonly onTailError: (error: unknown) => void,
  ) {}

  /** A message of the commit channel. */
  protected heard(message: string): void {
    const a = parseAnnouncement(message);
    if (a) {
      // The echo of a local commit can arrive before the commit's own reply; announced bare, it
      // would make every follower of the thread read the store for records it is about to be
      // handed. Held until the local append settles (see `appendLocally`).
      const held = this.local.get(a.threadId);
      if (held) held.heard = Math.max(held.heard, a.last);
      else this.listeners.announce(a.threadId, { lastSeq: a.last });
      return;
    }
    const started = parseRunStartPayload(message);
    if (started) this.runStarts.emit(started);
  }

  /**
   * The channel is listening again after a drop: announcements may have been lost, so every
   * subscribed thread's current end is announced (read from the store).
   */
  protected reconnected(): void {
    for (const threadId of this.listeners.threads()) {
      this.source.lastSeq(threadId).then(
        (lastSeq) => {
          if (!this.stopped) this.listeners.announce(threadId, { lastSeq });
        },
        (error) => this.onTailError(error),
      );
    }
  }

  subscribe(threadId: string, listener: CommitListener): Unsubscribe {
    return this.listeners.add(threadId, listener);
  }

  /**
   * Runs a local append (`commit` resolves once it is durable) and announces its records. While
   * it is in flight, the channel's announcements of the thread wait; afterwards any the local
   * ones did not cover are announced bare (readers read them): a commit whose reply was lost,
   * or another writer's. Only the fence holder appends, so in practice that is the echo.
   */
  async appendLocally(
    threadId: string,
    commit: () => Promise<EventRecord[]>,
  ): Promise<EventRecord[]> {
    let held = this.local.get(threadId);
    if (!held) {
      held = { pending: 0, heard: 0, told: 0 };
      this.local.set(threadId, held);
    }
    held.pending += 1;
    try {
      const records = await commit();
      this.committed(threadId, records);
      held.told = Math.max(held.told, records[records.length - 1]?.seq ?? 0);
      return records;
    } finally {
      held.pending -= 1;
      if (held.pending === 0) {
        this.local.delete(threadId);
        if (held.heard > held.told && !this.stopped) {
          this.listeners.announce(threadId, { lastSeq: held.heard });
        }
      }
    }
  }

  committed(threadId: string, records: readonly EventRecord[]): void {
    const last = records[records.length - 1];
    if (last) this.listeners.announce(threadId, { lastSeq: last.seq, records });
  }

  /** Run starts of every instance, local ones included, arrive on the channel. */
  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    return this.runStarts.add(listener);
  }

  /** Stops delivering: no listener hears anything after this. */
  protected stopTail(): void {
    this.stopped = true;
    this.listeners.clear();
    this.runStarts.clear();
  }
}
