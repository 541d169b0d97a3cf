import type { CommitListener, CommitNotice, Unsubscribe } from "../core/store.js";

/**
 * Per-thread commit listeners of one store. It only tells: ordering, dedup and holes are the
 * core live tail's (`src/core/live-tail.ts`), so a store keeps no watermark of its own.
 */
export class CommitListeners {
  private byThread = new Map<string, Set<CommitListener>>();

  add(threadId: string, listener: CommitListener): Unsubscribe {
    let set = this.byThread.get(threadId);
    if (!set) {
      set = new Set();
      this.byThread.set(threadId, set);
    }
    set.add(listener);
    return () => {
      const s = this.byThread.get(threadId);
      if (!s?.delete(listener) || s.size > 0) return;
      this.byThread.delete(threadId);
    };
  }

  has(threadId: string): boolean {
    return this.byThread.has(threadId);
  }

  threads(): string[] {
    return [...this.byThread.keys()];
  }

  /** Tells the thread's listeners; one that throws must not fail the writer (it committed). */
  announce(threadId: string, notice: CommitNotice): void {
    const set = this.byThread.get(threadId);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(notice);
      } catch {
        // A failing listener starves no other.
      }
    }
  }

  clear(): void {
    this.byThread.clear();
  }
}
