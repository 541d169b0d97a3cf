import type { AppendListener, Unsubscribe } from "../core/store.js";
import type { EventRecord } from "../core/types.js";

/** Per-thread listener sets for in-process fan-out of committed batches. */
export class ListenerRegistry {
  private byThread = new Map<string, Set<AppendListener>>();

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

  emit(threadId: string, records: readonly EventRecord[]): void {
    const set = this.byThread.get(threadId);
    if (!set || records.length === 0) return;
    for (const listener of [...set]) {
      try {
        listener(records);
      } catch {
        // A failing listener must never fail the writer's append, which already committed.
      }
    }
  }

  clear(): void {
    this.byThread.clear();
  }
}
