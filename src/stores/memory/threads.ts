import type { BaseEvent } from "@ag-ui/core";
import {
  type CompactionResult,
  type CompactionStep,
  messageCompacted,
  runCompacted,
} from "../../core/compaction.js";
import { ThreadlineError } from "../../core/errors.js";
import { fenceFloorAfterDelete } from "../../core/run-rules.js";
import {
  type AppendListener,
  errorOfTerminal,
  type RunStartListener,
  statusOfTerminal,
  type ThreadLog,
  type Unsubscribe,
} from "../../core/store.js";
import { patchedMetadata } from "../../core/thread-patch.js";
import type {
  EventRecord,
  Fence,
  ThreadPatch,
  ThreadSummary,
  ThreadView,
  ViewUpdate,
} from "../../core/types.js";
import { applyViewUpdate } from "../../core/view.js";
import { runStartsIn } from "../run-start-notice.js";
import { copy, ensureThreadData, type MemoryStoreData, page } from "./data.js";
import { endRun } from "./runs.js";

/** Threads, their logs and views, and in-process live delivery through the shared registry. */
export class MemoryThreads implements ThreadLog {
  /** This instance's subscriptions, removed from the shared registry on close. */
  private readonly subscriptions = new Set<Unsubscribe>();

  constructor(private readonly data: MemoryStoreData) {}

  async ensure(threadId: string, metadata?: Record<string, unknown>) {
    return copy(ensureThreadData(this.data, threadId, metadata).summary);
  }

  async get(threadId: string): Promise<ThreadView | null> {
    const t = this.data.threads.get(threadId);
    if (!t) return null;
    return { ...copy(t.summary), messages: copy(t.messages), state: copy(t.state) };
  }

  async head(threadId: string): Promise<ThreadSummary | null> {
    const t = this.data.threads.get(threadId);
    return t ? copy(t.summary) : null;
  }

  async list(opts: { limit?: number; offset?: number } = {}) {
    const all = [...this.data.threads.values()].map((t) => t.summary);
    all.sort((a, b) => b.updatedAt - a.updatedAt || (a.threadId < b.threadId ? -1 : 1));
    return copy(page(all, opts));
  }

  async update(threadId: string, patch: ThreadPatch): Promise<ThreadSummary | null> {
    const t = this.data.threads.get(threadId);
    if (!t) return null;
    t.summary.metadata = patchedMetadata(t.summary.metadata, patch);
    t.summary.updatedAt = Date.now();
    return copy(t.summary);
  }

  async delete(threadId: string): Promise<boolean> {
    const t = this.data.threads.get(threadId);
    if (!t) return false;
    this.data.fenceFloor = fenceFloorAfterDelete(this.data.fenceFloor, t.fenceToken);
    // Runs, queue and lease live inside the thread's entry: one delete removes them all.
    return this.data.threads.delete(threadId);
  }

  async append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]> {
    const t = this.data.threads.get(threadId);
    const run = t?.runs.get(fence.runId);
    if (!t || !run || t.summary.activeRunId !== fence.runId || t.fenceToken !== fence.token) {
      throw new ThreadlineError("LEASE_LOST", `run ${fence.runId} no longer holds ${threadId}`);
    }
    const now = Date.now();
    const records: EventRecord[] = [];
    for (const event of events) {
      // A copy: the caller may reuse its objects, and the log must not change under readers.
      const record = {
        seq: t.summary.lastSeq + 1,
        runId: fence.runId,
        at: now,
        event: copy(event),
      };
      t.summary.lastSeq = record.seq;
      t.events.push(record);
      records.push(record);
      if (event.type === "RUN_STARTED" && run.startSeq === undefined) run.startSeq = record.seq;
      if (event.type === "RUN_FINISHED" || event.type === "RUN_ERROR") {
        endRun(t, run, { status: statusOfTerminal(event), now, error: errorOfTerminal(event) });
      }
    }
    if (view) {
      if (view.replaceMessages) t.messageSeqs.clear();
      t.messages = applyViewUpdate(t.messages, t.index, view);
      for (const m of [...(view.replaceMessages ?? []), ...(view.upsertMessages ?? [])]) {
        if (!t.messageSeqs.has(m.id)) t.messageSeqs.set(m.id, t.summary.lastSeq);
      }
      if (view.state) t.state = copy(view.state.value);
    }
    t.summary.updatedAt = now;
    this.data.listeners.emit(threadId, records);
    for (const notice of runStartsIn(threadId, records)) this.data.runStarts.emit(notice);
    return records;
  }

  async compact(threadId: string, step: CompactionStep): Promise<CompactionResult | null> {
    const t = this.data.threads.get(threadId);
    if (!t) return null;
    const horizon = Math.min(Math.floor(step.horizon), t.summary.lastSeq);
    const result = { horizon: t.summary.horizon, events: 0, messages: 0, runs: 0 };
    if (horizon <= t.summary.horizon) return result;
    result.events = horizon - t.summary.horizon;
    t.events = t.events.slice(result.events);
    const kept = t.messages.filter((m) => !messageCompacted(t.messageSeqs.get(m.id) ?? 0, horizon));
    result.messages = t.messages.length - kept.length;
    t.messages = kept;
    t.index.clear();
    for (const [i, m] of kept.entries()) t.index.set(m.id, i);
    for (const id of [...t.messageSeqs.keys()]) if (!t.index.has(id)) t.messageSeqs.delete(id);
    for (const [runId, run] of t.runs) {
      if (runCompacted(run, { horizon, endedBefore: step.endedBefore })) {
        t.runs.delete(runId);
        result.runs += 1;
      }
    }
    t.summary.horizon = horizon;
    result.horizon = horizon;
    return result;
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const t = this.data.threads.get(threadId);
    if (!t) return [];
    // seq N lives at index N-1-horizon: the log is gapless above the horizon.
    const from = Math.max(0, Math.floor(opts.after) - t.summary.horizon);
    return copy(t.events.slice(from, from + Math.max(0, opts.limit ?? 1000)));
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    const off = this.data.listeners.add(threadId, listener);
    const unsubscribe = () => {
      this.subscriptions.delete(unsubscribe);
      off();
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    const off = this.data.runStarts.add(listener);
    const unsubscribe = () => {
      this.subscriptions.delete(unsubscribe);
      off();
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  close(): void {
    for (const unsubscribe of [...this.subscriptions]) unsubscribe();
  }
}
