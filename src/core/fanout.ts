import type { LogBatch } from "./follow-item.js";
import { LiveTail, type LiveTailOptions } from "./live-tail.js";
import { ReplayPages } from "./replay-pages.js";
import type { ThreadStore } from "./store.js";

export interface LiveSink {
  /** Receives the thread's batches in seq order. Must not block: the commit path calls it. */
  push(batch: LogBatch): void;
}

/** A sink's place in a thread's fan-out. */
export interface Attachment {
  /**
   * Resolves once the live tail knows where it starts: what the store holds when it resolved
   * is either read by the sink itself or comes live, so a replay read after it leaves no hole.
   */
  readonly ready: Promise<void>;
  detach(): void;
}

interface Entry {
  tail: LiveTail;
  sinks: Set<LiveSink>;
}

/**
 * Per-process fan-out: one live tail per followed thread (`LiveTail`), each batch it yields
 * handed, as the same object, to every follower of the thread; and the replay pages its
 * followers read from the store (`ReplayPages`), shared the same way.
 */
export class FanOut {
  private threads = new Map<string, Entry>();
  readonly pages: ReplayPages;

  /** `opts` go to every thread's tail: the runtime's clock, who hears of read failures. */
  constructor(
    private readonly store: ThreadStore,
    private readonly opts: LiveTailOptions = {},
  ) {
    this.pages = new ReplayPages(store);
  }

  attach(threadId: string, sink: LiveSink): Attachment {
    let entry = this.threads.get(threadId);
    if (!entry) {
      const sinks = new Set<LiveSink>();
      const tail = new LiveTail(this.store, threadId, (b) => deliver(sinks, b), this.opts);
      const created: Entry = { tail, sinks };
      entry = created;
      this.threads.set(threadId, created);
      // A floor that could not be read fails its followers' open; the next one starts afresh.
      tail.ready.catch(() => this.drop(threadId, created));
    }
    const e = entry;
    e.sinks.add(sink);
    return {
      ready: e.tail.ready,
      detach: () => {
        if (!e.sinks.delete(sink) || e.sinks.size > 0) return;
        this.drop(threadId, e);
      },
    };
  }

  followerCount(threadId?: string): number {
    if (threadId) return this.threads.get(threadId)?.sinks.size ?? 0;
    let n = 0;
    for (const e of this.threads.values()) n += e.sinks.size;
    return n;
  }

  close(): void {
    for (const e of this.threads.values()) e.tail.close();
    this.threads.clear();
  }

  private drop(threadId: string, entry: Entry): void {
    entry.tail.close();
    if (this.threads.get(threadId) === entry) this.threads.delete(threadId);
  }
}

function deliver(sinks: Set<LiveSink>, batch: LogBatch): void {
  for (const sink of sinks) {
    try {
      sink.push(batch);
    } catch {
      // A failing follower must not starve the others (nor the writer, which committed).
    }
  }
}
