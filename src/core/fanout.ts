import type { BaseEvent } from "@ag-ui/core";
import { encodeFrame } from "./sse.js";
import type { ThreadStore, Unsubscribe } from "./store.js";
import type { EventRecord } from "./types.js";

/** A committed event with its SSE frame, encoded once and shared by every follower. */
export interface LiveItem {
  seq: number;
  runId: string;
  event: BaseEvent;
  frame: Uint8Array;
}

export interface LiveSink {
  /** Receives live items in seq order. Must not block: the writer's commit path calls it. */
  push(items: readonly LiveItem[]): void;
}

/**
 * Per-process fan-out: one store subscription per followed thread, each committed event
 * encoded to its SSE frame once, the same bytes handed to every follower.
 */
export class FanOut {
  private threads = new Map<string, { sinks: Set<LiveSink>; unsubscribe: Unsubscribe }>();

  constructor(private readonly store: ThreadStore) {}

  attach(threadId: string, sink: LiveSink): () => void {
    let entry = this.threads.get(threadId);
    if (!entry) {
      const sinks = new Set<LiveSink>();
      const unsubscribe = this.store.subscribe(threadId, (records) => this.deliver(sinks, records));
      entry = { sinks, unsubscribe };
      this.threads.set(threadId, entry);
    }
    entry.sinks.add(sink);
    return () => {
      const e = this.threads.get(threadId);
      if (!e) return;
      e.sinks.delete(sink);
      if (e.sinks.size === 0) {
        e.unsubscribe();
        this.threads.delete(threadId);
      }
    };
  }

  followerCount(threadId?: string): number {
    if (threadId) return this.threads.get(threadId)?.sinks.size ?? 0;
    let n = 0;
    for (const e of this.threads.values()) n += e.sinks.size;
    return n;
  }

  private deliver(sinks: Set<LiveSink>, records: readonly EventRecord[]): void {
    if (sinks.size === 0) return;
    const items = records.map(toLiveItem);
    for (const sink of sinks) sink.push(items);
  }

  close(): void {
    for (const e of this.threads.values()) e.unsubscribe();
    this.threads.clear();
  }
}

export function toLiveItem(r: EventRecord): LiveItem {
  return { seq: r.seq, runId: r.runId, event: r.event, frame: encodeFrame(r.event, { id: r.seq }) };
}
