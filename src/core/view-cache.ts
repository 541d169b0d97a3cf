import type { ThreadStore } from "./store.js";
import { ViewBuilder } from "./view.js";

/** A thread's materialized view as a run starts from it. */
export interface LoadedView {
  view: ViewBuilder;
  /** The thread's creation time: a thread deleted and created again is another thread. */
  createdAt: number;
  /** The thread's compaction horizon: a compaction since removed messages from the view. */
  horizon: number;
}

interface CachedView extends LoadedView {
  lastSeq: number;
}

/** Threads whose materialized view stays in memory between runs. */
const VIEW_CACHE_SIZE = 256;

/**
 * The views runs left behind (an LRU), so the next run on a thread does not reload (and
 * re-parse) its history. A run takes its thread's view out (it mutates it as it writes) and puts
 * it back when it ended cleanly; one with a failed append puts nothing back.
 */
export class ViewCache {
  private readonly views = new Map<string, CachedView>();

  constructor(
    private readonly store: ThreadStore,
    private readonly size = VIEW_CACHE_SIZE,
  ) {}

  /**
   * The thread's view, now the caller's: the cached one if no one appended since (nor deleted
   * the thread and made it again, nor compacted it), else loaded from the store.
   */
  async take(threadId: string): Promise<LoadedView> {
    const loaded = await this.load(threadId);
    this.views.delete(threadId);
    return loaded;
  }

  /** Keeps a run's view as of `lastSeq`, the last seq it wrote. */
  keep(threadId: string, loaded: LoadedView, lastSeq: number): void {
    this.views.set(threadId, { ...loaded, lastSeq });
    if (this.views.size > this.size) this.views.delete(this.views.keys().next().value!);
  }

  /** The thread was deleted. */
  forget(threadId: string): void {
    this.views.delete(threadId);
  }

  /** The store lost its data: no cached view is true any more. */
  clear(): void {
    this.views.clear();
  }

  private async load(threadId: string): Promise<LoadedView> {
    const cached = this.views.get(threadId);
    if (cached) {
      const head = await this.store.threads.head(threadId);
      if (
        head?.lastSeq === cached.lastSeq &&
        head.createdAt === cached.createdAt &&
        head.horizon === cached.horizon
      ) {
        return cached;
      }
    }
    const thread = await this.store.threads.get(threadId);
    const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {}, {
      owned: true,
      interrupts: thread?.interrupts ?? [],
    });
    return { view, createdAt: thread?.createdAt ?? 0, horizon: thread?.horizon ?? 0 };
  }
}
