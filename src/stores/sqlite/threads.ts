import type { Message } from "@ag-ui/core";
import type Database from "better-sqlite3";
import { fenceFloorAfterDelete, nextFenceToken } from "../../core/run-rules.js";
import { patchedMetadata } from "../../core/thread-patch.js";
import type * as T from "../../core/types.js";
import {
  type EventRow,
  json,
  recordOf,
  type SummaryRow,
  summaryOf,
  type ThreadHead,
  type ThreadRow,
  textOf,
  viewOf,
} from "./rows.js";

/**
 * Threads, their event log and their materialized view. Statements are prepared once; callers
 * own the transactions. Every per-append statement touches only the rows it changes (an event
 * insert, the thread row, the changed messages), so append cost does not grow with history.
 */
/** Rows per multi-row INSERT: one statement per event was a third of an append's cost. */
const INSERT_CHUNK = 64;

export class ThreadTable {
  private readonly s;
  /** Multi-row event INSERTs by row count, prepared on first use. */
  private readonly inserts = new Map<number, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO threads (thread_id, created_at, updated_at, metadata)
         VALUES (?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING`,
      ),
      row: db.prepare<[string], ThreadRow>("SELECT * FROM threads WHERE thread_id = ?"),
      summary: db.prepare<[string], SummaryRow>(
        `SELECT thread_id, created_at, updated_at, last_seq, horizon, active_run_id, metadata,
           interrupts
         FROM threads WHERE thread_id = ?`,
      ),
      setMetadata: db.prepare(
        "UPDATE threads SET metadata = ?, updated_at = ? WHERE thread_id = ?",
      ),
      deleteThread: db.prepare("DELETE FROM threads WHERE thread_id = ?"),
      deleteEvents: db.prepare("DELETE FROM events WHERE thread_id = ?"),
      head: db.prepare<[string], ThreadHead>(
        `SELECT last_seq, active_run_id, fence_token, next_position FROM threads
         WHERE thread_id = ?`,
      ),
      interruptIds: db
        .prepare<[string], string>(
          `SELECT (SELECT json_group_array(json_extract(value, '$.id')) FROM json_each(interrupts))
           FROM threads WHERE thread_id = ?`,
        )
        .pluck(),
      lastSeq: db
        .prepare<[string], number>("SELECT last_seq FROM threads WHERE thread_id = ?")
        .pluck(),
      list: db.prepare<[number, number], ThreadRow>(
        "SELECT * FROM threads ORDER BY updated_at DESC, thread_id LIMIT ? OFFSET ?",
      ),
      listAfter: db.prepare<[string, number], ThreadRow>(
        "SELECT * FROM threads WHERE thread_id > ? ORDER BY thread_id LIMIT ?",
      ),
      saveAppend: db.prepare(
        `UPDATE threads SET last_seq = ?, active_run_id = ?, updated_at = ?, next_position = ?
         WHERE thread_id = ?`,
      ),
      saveState: db.prepare("UPDATE threads SET state = ? WHERE thread_id = ?"),
      saveInterrupts: db.prepare(
        "UPDATE threads SET interrupts = ?, interrupts_due_at = ? WHERE thread_id = ?",
      ),
      interruptsDue: db.prepare<[number, number], { thread_id: string; interrupts_due_at: number }>(
        `SELECT thread_id, interrupts_due_at FROM threads
         WHERE interrupts_due_at IS NOT NULL AND interrupts_due_at <= ?
         ORDER BY interrupts_due_at, thread_id LIMIT ?`,
      ),
      setActive: db.prepare(
        "UPDATE threads SET active_run_id = ?, fence_token = ? WHERE thread_id = ?",
      ),
      floor: db
        .prepare<[], number>("SELECT value FROM counters WHERE name = 'fence_floor'")
        .pluck(),
      setFloor: db.prepare("UPDATE counters SET value = ? WHERE name = 'fence_floor'"),
      events: db.prepare<[string, number, number], EventRow>(
        `SELECT seq, run_id, at, event FROM events WHERE thread_id = ? AND seq > ?
         ORDER BY seq LIMIT ?`,
      ),
      // Rows as arrays: building the objects in JS costs half what the driver's named rows do.
      eventTexts: db
        .prepare<[string, number, number], [number, string, string]>(
          "SELECT seq, run_id, event FROM events WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .raw(),
      messages: db.prepare<[string], { json: string }>(
        "SELECT json FROM messages WHERE thread_id = ? ORDER BY position",
      ),
      messagePosition: db
        .prepare<[string, string], number>(
          "SELECT position FROM messages WHERE thread_id = ? AND message_id = ?",
        )
        .pluck(),
      insertMessage: db.prepare(
        "INSERT INTO messages (thread_id, position, message_id, json, seq) VALUES (?, ?, ?, ?, ?)",
      ),
      horizon: db
        .prepare<[string], number>("SELECT horizon FROM threads WHERE thread_id = ?")
        .pluck(),
      compactEvents: db.prepare("DELETE FROM events WHERE thread_id = ? AND seq <= ?"),
      compactMessages: db.prepare("DELETE FROM messages WHERE thread_id = ? AND seq <= ?"),
      setHorizon: db.prepare("UPDATE threads SET horizon = ? WHERE thread_id = ?"),
      updateMessage: db.prepare(
        "UPDATE messages SET json = ? WHERE thread_id = ? AND position = ?",
      ),
      clearMessages: db.prepare("DELETE FROM messages WHERE thread_id = ?"),
    };
  }

  ensure(threadId: string, metadata: Record<string, unknown> | undefined, now: number): void {
    this.s.insert.run(threadId, now, now, json(metadata ?? {}));
  }

  row(threadId: string): ThreadRow | undefined {
    return this.s.row.get(threadId);
  }

  /** What writes need of a thread; skips the state and metadata JSON. */
  head(threadId: string): ThreadHead | undefined {
    return this.s.head.get(threadId);
  }

  /** The ids of the thread's pending interrupts, in order (an enqueue's check, not the head's). */
  pendingInterruptIds(threadId: string): string[] {
    const ids = this.s.interruptIds.get(threadId);
    return ids ? (JSON.parse(ids) as string[]) : [];
  }

  /** The summary alone: neither the state nor the messages are read. */
  summary(threadId: string): T.ThreadSummary | null {
    const row = this.s.summary.get(threadId);
    return row ? summaryOf(row) : null;
  }

  /** Call inside a write transaction: read, patch (the rule in core), write. */
  update(threadId: string, patch: T.ThreadPatch, now: number): T.ThreadSummary | null {
    const row = this.s.summary.get(threadId);
    if (!row) return null;
    const metadata = patchedMetadata(JSON.parse(row.metadata) as Record<string, unknown>, patch);
    this.s.setMetadata.run(json(metadata), now, threadId);
    return this.summary(threadId);
  }

  /** The thread row, its log and its messages; the caller removes its runs in the same transaction. */
  delete(threadId: string): boolean {
    const head = this.head(threadId);
    if (!head) return false;
    this.s.setFloor.run(fenceFloorAfterDelete(this.s.floor.get() ?? 0, head.fence_token));
    this.s.deleteEvents.run(threadId);
    this.s.clearMessages.run(threadId);
    this.s.deleteThread.run(threadId);
    return true;
  }

  /**
   * Inside a write transaction: the thread's part of a compaction step (events, messages, the
   * horizon); the caller removes the runs. Null when the thread is unknown.
   */
  compact(
    threadId: string,
    horizon: number,
  ): { from: number; events: number; messages: number } | null {
    const from = this.s.horizon.get(threadId);
    if (from === undefined) return null;
    if (horizon <= from) return { from, events: 0, messages: 0 };
    const events = this.s.compactEvents.run(threadId, horizon).changes;
    const messages = this.s.compactMessages.run(threadId, horizon).changes;
    this.s.setHorizon.run(horizon, threadId);
    return { from, events, messages };
  }

  /** Call inside a read transaction so messages and state match `lastSeq`. */
  view(threadId: string): T.ThreadView | null {
    const row = this.row(threadId);
    return row ? viewOf(row, this.s.messages.all(threadId)) : null;
  }

  list(limit: number, offset: number): T.ThreadSummary[] {
    return this.s.list.all(limit, offset).map(summaryOf);
  }

  /** Along the primary key (binary order): see `ThreadLog.listAfter`. */
  listAfter(after: string, limit: number): T.ThreadSummary[] {
    return this.s.listAfter.all(after, limit).map(summaryOf);
  }

  lastSeq(threadId: string): number {
    return this.s.lastSeq.get(threadId) ?? 0;
  }

  read(threadId: string, after: number, limit: number): T.EventRecord[] {
    return this.s.events.all(threadId, after, limit).map(recordOf);
  }

  readText(threadId: string, after: number, limit: number): T.EventText[] {
    return this.s.eventTexts.all(threadId, after, limit).map(textOf);
  }

  /** Inserts a batch of events with multi-row INSERTs (chunks of INSERT_CHUNK rows). */
  /** Inserts committed records; `json[i]` is the JSON of `records[i]`'s event (the append plan's). */
  insertEvents(threadId: string, records: readonly T.EventRecord[], json: readonly string[]): void {
    for (let i = 0; i < records.length; i += INSERT_CHUNK) {
      const chunk = records.slice(i, i + INSERT_CHUNK);
      const params: unknown[] = [];
      for (const [k, r] of chunk.entries())
        params.push(threadId, r.seq, r.runId, r.at, json[i + k]);
      this.insertStatement(chunk.length).run(params);
    }
  }

  private insertStatement(rows: number): Database.Statement {
    let stmt = this.inserts.get(rows);
    if (!stmt) {
      const values = Array.from({ length: rows }, () => "(?, ?, ?, ?, ?)").join(", ");
      stmt = this.db.prepare(
        `INSERT INTO events (thread_id, seq, run_id, at, event) VALUES ${values}`,
      );
      this.inserts.set(rows, stmt);
    }
    return stmt;
  }

  saveAppend(
    threadId: string,
    changes: { lastSeq: number; activeRunId: string | null; updatedAt: number; next: number },
  ): void {
    const { lastSeq, activeRunId, updatedAt, next } = changes;
    this.s.saveAppend.run(lastSeq, activeRunId, updatedAt, next, threadId);
  }

  /** The due index (`ThreadLog.interruptsDue`): `until` null is any time. */
  interruptsDue(until: number | null, limit: number): { threadId: string; dueAt: number }[] {
    return this.s.interruptsDue
      .all(until ?? Number.MAX_SAFE_INTEGER, limit)
      .map((r) => ({ threadId: r.thread_id, dueAt: Number(r.interrupts_due_at) }));
  }

  setActive(threadId: string, runId: string | null, fenceToken: number): void {
    this.s.setActive.run(runId, fenceToken, threadId);
  }

  /** Inside a write transaction: the next fencing token for a thread holding `current`. */
  issueToken(current: number): number {
    return nextFenceToken(this.s.floor.get() ?? 0, current);
  }

  /**
   * Persists a view update like `applyViewUpdate` (replace, then upserts; new messages at the
   * end). Returns the thread's next message position.
   */
  applyView(threadId: string, next: number, update: T.ViewUpdate, seq: number): number {
    let position = next;
    if (update.replaceMessages) {
      this.s.clearMessages.run(threadId);
      position = 0;
      position = this.upsert(threadId, position, update.replaceMessages, seq);
    }
    position = this.upsert(threadId, position, update.upsertMessages ?? [], seq);
    if (update.state) this.s.saveState.run(json(update.state.value), threadId);
    if (update.interrupts) {
      const { value, dueAt } = update.interrupts;
      this.s.saveInterrupts.run(json(value), dueAt ?? null, threadId);
    }
    return position;
  }

  /** New messages are recorded as first written at `seq` (their batch's last seq). */
  private upsert(
    threadId: string,
    next: number,
    messages: readonly Message[],
    seq: number,
  ): number {
    let position = next;
    for (const m of messages) {
      const at = this.s.messagePosition.get(threadId, m.id);
      if (at === undefined) {
        this.s.insertMessage.run(threadId, position, m.id, json(m), seq);
        position += 1;
      } else {
        // Also how a replacement list naming an id twice collapses: one entry, last content.
        this.s.updateMessage.run(json(m), threadId, at);
      }
    }
    return position;
  }
}
