import type { BaseEvent } from "@ag-ui/core";
import { concatFrames, encodeFrame } from "./sse.js";
import type { ThreadStore, Unsubscribe } from "./store.js";
import type { EventRecord } from "./types.js";

/** A committed event with its SSE frame, encoded once and shared by every follower. */
export interface LiveItem {
  /** Live items are log events; the same object is handed to every follower (never mutated). */
  kind: "event";
  seq: number;
  runId: string;
  event: BaseEvent;
  frame: Uint8Array;
  /** The committed batch this item came in, its frames concatenated once for every follower. */
  batch?: LiveBatch;
}

/** A committed batch's frames as one shared chunk: seqs `first`..`last`, consecutive. */
export interface LiveBatch {
  frame: Uint8Array;
  first: number;
  last: number;
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
      const unsubscribe = this.store.threads.subscribe(threadId, (records) =>
        this.deliver(sinks, records),
      );
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
    shareBatch(items);
    for (const sink of sinks) sink.push(items);
  }

  close(): void {
    for (const e of this.threads.values()) e.unsubscribe();
    this.threads.clear();
  }
}

/**
 * Encode once, write many — per batch, not only per event: the batch's frames are concatenated
 * once and each item's frame becomes a view into that chunk, so a follower that takes the whole
 * batch writes the shared chunk instead of copying every frame into a buffer of its own.
 */
function shareBatch(items: LiveItem[]): void {
  if (items.length < 2) return;
  const frame = concatFrames(items.map((i) => i.frame));
  const batch: LiveBatch = { frame, first: items[0]!.seq, last: items[items.length - 1]!.seq };
  let at = 0;
  for (const item of items) {
    const len = item.frame.byteLength;
    item.frame = frame.subarray(at, at + len);
    item.batch = batch;
    at += len;
  }
}

export function toLiveItem(r: EventRecord): LiveItem {
  return {
    kind: "event",
    seq: r.seq,
    runId: r.runId,
    event: r.event,
    frame: encodeFrame(r.event, { id: r.seq }),
  };
}
