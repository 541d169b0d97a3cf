import type { BaseEvent } from "@ag-ui/core";
import { CommittedEvent } from "./append-plan.js";
import type { EventRecord, EventText } from "./types.js";

/**
 * `event`: a log event. `snapshot` / `reopen`: the synthetic events of a compact replay and of a
 * mid-run attach. `abort`: the synthetic RUN_ERROR that ends a run the store lost (see
 * `Follow.dataLost`). `ending`: a synthetic end of a run that left nothing in the log (a
 * CopilotKit run stream, `src/core/copilotkit/stream.ts`).
 */
export type FollowItemKind = "event" | "snapshot" | "reopen" | "abort" | "ending";

/**
 * One item of a follow stream. Core hands out events, never bytes: how an item is written (its
 * SSE frame, `src/http/sse-frames.ts`) is the HTTP layer's business.
 */
export interface FollowItem {
  /** The log position this item represents (for synthetic items: the cursor they summarise). */
  seq: number;
  event: BaseEvent;
  kind: FollowItemKind;
  /** The run a log event belongs to (absent on snapshot items). */
  runId?: string;
  /**
   * A log event read from the store as text (`ThreadLog.readText`): its stored JSON, which is
   * what `JSON.stringify(event)` gives (the canonical encoding, made once at append). Its frame
   * carries it as is; `event` is parsed from it only when someone reads it.
   */
  json?: string;
  /** Log events: the batch they came in (shared by every follower that got it). */
  batch?: LogBatch;
  /**
   * A synthetic item that stands for the cursor `seq` (the last item of a compact replay): a
   * client that drops right after it resumes there instead of starting over.
   */
  marksCursor?: boolean;
}

/**
 * Consecutive log events of one thread (`first`..`last`), as committed (live) or as read from
 * the store (replay). One object for every follower that gets it, its items too, so whatever is
 * derived from it (the SSE bytes) is derived once per batch, not once per follower.
 */
export interface LogBatch {
  readonly threadId: string;
  readonly first: number;
  readonly last: number;
  readonly items: readonly FollowItem[];
}

/**
 * The batch of `records` (ascending, contiguous, non-empty). A committed event's item carries
 * its stored JSON (its frame takes it as is) and parses only when someone reads `event`.
 */
export function logBatch(threadId: string, records: readonly EventRecord[]): LogBatch {
  return batchOf(threadId, records, (r, batch) =>
    r instanceof CommittedEvent
      ? new StoredItem(r.seq, r.runId, r.json, batch, r)
      : { seq: r.seq, runId: r.runId, event: r.event, kind: "event", batch },
  );
}

function batchOf<R extends { seq: number }>(
  threadId: string,
  rows: readonly R[],
  item: (row: R, batch: LogBatch) => FollowItem,
): LogBatch {
  const items: FollowItem[] = [];
  const batch: LogBatch = {
    threadId,
    first: rows[0]!.seq,
    last: rows[rows.length - 1]!.seq,
    items,
  };
  for (const r of rows) items.push(item(r, batch));
  return batch;
}

/**
 * A log event as stored text, read from the store or just committed (`committed`: its record,
 * whose one parse it shares): parsed on first use of `event`, so a frame written as SSE (which
 * needs the text alone) never parses, while an in-process follower still gets objects.
 */
class StoredItem implements FollowItem {
  readonly kind = "event" as const;
  private parsed: BaseEvent | undefined;

  constructor(
    readonly seq: number,
    readonly runId: string,
    readonly json: string,
    readonly batch: LogBatch,
    private readonly committed?: CommittedEvent,
  ) {}

  get event(): BaseEvent {
    if (this.committed) return this.committed.event;
    this.parsed ??= JSON.parse(this.json) as BaseEvent;
    return this.parsed;
  }
}

/** The batch of stored `texts` (ascending, contiguous, non-empty), parsed lazily. */
export function textBatch(threadId: string, texts: readonly EventText[]): LogBatch {
  return batchOf(threadId, texts, (t, batch) => new StoredItem(t.seq, t.runId, t.json, batch));
}

/** The item of `batch` at `seq`, if it holds it. */
export function itemAt(batch: LogBatch, seq: number): FollowItem | undefined {
  const item = batch.items[seq - batch.first];
  return item?.seq === seq ? item : undefined;
}

const jsonBytes = new WeakMap<LogBatch, number>();

/**
 * What a batch weighs in a follower's queue when its writer gives no measure of its own: the
 * length of its events' JSON, computed once per batch however many followers hold it.
 */
export function batchWeight(batch: LogBatch): number {
  let n = jsonBytes.get(batch);
  if (n === undefined) {
    n = 0;
    for (const item of batch.items) n += (item.json ?? JSON.stringify(item.event)).length;
    jsonBytes.set(batch, n);
  }
  return n;
}
