import { planAppend, recordsOf } from "../../core/append-plan.js";
import {
  type CompactionResult,
  type CompactionStep,
  messageCompacted,
  runCompacted,
} from "../../core/compaction.js";
import { fenceFloorAfterDelete, fenceHolds, leaseLost } from "../../core/run-rules.js";
import type * as Store from "../../core/store.js";
import { count, dueWindow, readWindow } from "../../core/store.js";

import { patchedMetadata } from "../../core/thread-patch.js";
import type { EventRecord, ThreadPatch, ThreadSummary, ThreadView } from "../../core/types.js";
import { applyViewUpdate } from "../../core/view.js";
import { runStartsIn } from "../run-start-notice.js";
import {
  copy,
  ensureThreadData,
  fenceStateOf,
  type MemoryStoreData,
  page,
  type StoredEvent,
} from "./data.js";
import { endRun } from "./runs.js";

/** Threads, their logs and views, and in-process live delivery through the shared registry. */
export class MemoryThreads implements Store.ThreadLog {
  /** This instance's subscriptions, removed from the shared registry on close. */
  private readonly subscriptions = new Set<Store.Unsubscribe>();

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

  async listAfter(after: string, limit: number) {
    const ids = [...this.data.threads.keys()].filter((id) => id > after).sort();
    return copy(ids.slice(0, count(limit, 0)).map((id) => this.data.threads.get(id)!.summary));
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

  async append(...[threadId, fence, events, view]: Store.AppendArgs): Promise<EventRecord[]> {
    const t = this.data.threads.get(threadId);
    const run = t?.runs.get(fence.runId);
    if (!t || !run || !fenceHolds(fenceStateOf(t, run), fence))
      throw leaseLost(threadId, fence.runId);
    // Decided before anything changes: an event JSON cannot hold fails the whole batch.
    const plan = planAppend(events);
    const now = Date.now();
    const records = recordsOf(plan, t.summary.lastSeq + 1, fence.runId, now);
    // The log keeps the JSON, so no reader or listener shares an object with it.
    for (const [i, r] of records.entries())
      t.events.push({ seq: r.seq, runId: r.runId, at: r.at, json: plan.json[i]! });
    if (records.length > 0) t.summary.lastSeq = records[records.length - 1]!.seq;
    if (plan.started >= 0 && run.startSeq === undefined) run.startSeq = records[plan.started]!.seq;
    if (plan.terminal) {
      const { status, error } = plan.terminal;
      endRun(t, run, { status, now, ...(error ? { error } : {}) });
    }
    if (view) {
      if (view.replaceMessages) t.messageSeqs.clear();
      t.messages = applyViewUpdate(t.messages, t.index, view);
      for (const m of [...(view.replaceMessages ?? []), ...(view.upsertMessages ?? [])]) {
        if (!t.messageSeqs.has(m.id)) t.messageSeqs.set(m.id, t.summary.lastSeq);
      }
      if (view.state) t.state = copy(view.state.value);
      if (view.interrupts) {
        t.summary.interrupts = copy(view.interrupts.value);
        t.interruptsDueAt = view.interrupts.dueAt ?? null;
      }
    }
    t.summary.updatedAt = now;
    const last = records[records.length - 1];
    if (last) this.data.listeners.announce(threadId, { lastSeq: last.seq, records });
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
    return this.window(threadId, opts).map((r) => ({
      seq: r.seq,
      runId: r.runId,
      at: r.at,
      event: JSON.parse(r.json),
    }));
  }

  async readText(threadId: string, opts: { after: number; limit?: number }) {
    return this.window(threadId, opts).map(({ seq, runId, json }) => ({ seq, runId, json }));
  }

  private window(threadId: string, opts: { after: number; limit?: number }): StoredEvent[] {
    const t = this.data.threads.get(threadId);
    if (!t) return [];
    // seq N lives at index N-1-horizon: the log is gapless above the horizon.
    const { after, limit } = readWindow(opts);
    const from = Math.max(0, after - t.summary.horizon);
    return t.events.slice(from, from + limit);
  }

  async interruptsDue(opts?: { until?: number; limit?: number }): Promise<Store.InterruptsDue[]> {
    const { until, limit } = dueWindow(opts);
    const due: Store.InterruptsDue[] = [];
    for (const [threadId, t] of this.data.threads) {
      const at = t.interruptsDueAt;
      if (at !== null && (until === null || at <= until)) due.push({ threadId, dueAt: at });
    }
    due.sort((a, b) => a.dueAt - b.dueAt || (a.threadId < b.threadId ? -1 : 1));
    return due.slice(0, limit);
  }

  subscribe(threadId: string, listener: Store.CommitListener): Store.Unsubscribe {
    const off = this.data.listeners.add(threadId, listener);
    const unsubscribe = () => {
      this.subscriptions.delete(unsubscribe);
      off();
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  subscribeRunStarts(listener: Store.RunStartListener): Store.Unsubscribe {
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
