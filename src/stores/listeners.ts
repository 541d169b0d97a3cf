import type { AppendListener, Unsubscribe } from "../core/store.js";
import type { EventRecord } from "../core/types.js";

/** Per-thread listener sets for in-process fan-out of committed batches. */
export class ListenerRegistry {
  private byThread = new Map<string, Set<AppendListener>>();
  private pending: Array<{ threadId: string; records: readonly EventRecord[] }> = [];
  private emitting = false;

  add(threadId: string, listener: AppendListener): Unsubscribe {
    let set = this.byThread.get(threadId);
    if (!set) {
      set = new Set();
      this.byThread.set(threadId, set);
    }
    set.add(listener);
    return () => {
      const s = this.byThread.get(threadId);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.byThread.delete(threadId);
    };
  }

  has(threadId: string): boolean {
    return this.byThread.has(threadId);
  }

  threads(): string[] {
    return [...this.byThread.keys()];
  }

  /**
   * Delivers a batch to the thread's listeners. A listener that appends synchronously (an async
   * `append` runs up to its first await) re-enters here; its batch waits until the current one
   * reached every listener, so each listener still sees batches in commit order.
   */
  emit(threadId: string, records: readonly EventRecord[]): void {
    if (records.length === 0 || !this.byThread.has(threadId)) return;
    this.pending.push({ threadId, records });
    if (this.emitting) return;
    this.emitting = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const listener of [...(this.byThread.get(next.threadId) ?? [])]) {
          try {
            listener(next.records);
          } catch {
            // A failing listener must never fail the writer's append, which already committed.
          }
        }
      }
    } finally {
      this.emitting = false;
    }
  }

  clear(): void {
    this.byThread.clear();
    this.pending = [];
  }
}
