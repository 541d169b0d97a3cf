import { typeOfRecord } from "../core/append-plan.js";
import type { RunStartListener, RunStartNotice, Unsubscribe } from "../core/store.js";
import type { EventRecord } from "../core/types.js";

/**
 * Run starts travel on a shared store's commit channel next to the commit announcements
 * (`first:last:threadId`, see announcement.ts) as JSON `{"runStarted":{threadId,runId,seq}}`.
 * An announcement starts with a digit and a notice with `{`, so neither parser mistakes one for
 * the other. The Redis append script builds the same JSON in Lua.
 */
export function runStartPayload(notice: RunStartNotice): string {
  return JSON.stringify({ runStarted: notice });
}

export function parseRunStartPayload(payload: string): RunStartNotice | null {
  if (!payload.startsWith("{")) return null;
  try {
    const n = (JSON.parse(payload) as { runStarted?: Partial<RunStartNotice> }).runStarted;
    if (!n || typeof n.threadId !== "string" || typeof n.runId !== "string") return null;
    if (typeof n.seq !== "number") return null;
    return { threadId: n.threadId, runId: n.runId, seq: n.seq };
  } catch {
    return null;
  }
}

/** The listeners of a store's run-start signal; a throwing listener never reaches the writer. */
export class RunStartListeners {
  private readonly listeners = new Set<RunStartListener>();

  add(listener: RunStartListener): Unsubscribe {
    // A wrapper per call: the same function subscribed twice gets two deliveries and two offs.
    const entry: RunStartListener = (n) => listener(n);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  emit(notice: RunStartNotice): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(notice);
      } catch {
        // Listeners run after the commit; their failure must not surface in the append.
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** The notices of a committed batch: its RUN_STARTED records. */
export function runStartsIn(threadId: string, records: readonly EventRecord[]): RunStartNotice[] {
  const out: RunStartNotice[] = [];
  for (const r of records) {
    if (typeOfRecord(r) === "RUN_STARTED") out.push({ threadId, runId: r.runId, seq: r.seq });
  }
  return out;
}
