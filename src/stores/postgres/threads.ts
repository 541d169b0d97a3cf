import type { Message } from "@ag-ui/core";
import type { CompactionStep } from "../../core/compaction.js";
import { fenceFloorAfterDelete } from "../../core/run-rules.js";
import { patchedMetadata } from "../../core/thread-patch.js";
import type * as T from "../../core/types.js";
import type { Queryable } from "./connection.js";
import {
  type EventRow,
  json,
  type RunBrief,
  recordOf,
  summaryOf,
  THREAD_COLUMNS,
  type ThreadHead,
  type ThreadRow,
  viewOf,
} from "./rows.js";
import type { Tables } from "./schema.js";

/** The run columns of `lock`'s LEFT JOIN: null when the run does not exist. */
type NullableBrief = { [K in keyof RunBrief]: RunBrief[K] | null };

/**
 * Threads, their event log and their materialized view. Callers own the transactions. Every
 * per-append statement touches only the rows it changes (the new events, the thread row, the
 * changed messages), so append cost does not grow with history.
 */
export class ThreadTable {
  constructor(private readonly t: Tables) {}

  async ensure(
    db: Queryable,
    threadId: string,
    metadata: Record<string, unknown> | undefined,
    now: number,
  ): Promise<void> {
    await db.query(
      `INSERT INTO ${this.t.threads} (thread_id, created_at, updated_at, metadata)
       VALUES ($1, $2, $2, $3) ON CONFLICT (thread_id) DO NOTHING`,
      [threadId, now, json(metadata ?? {})],
    );
  }

  async summary(db: Queryable, threadId: string): Promise<T.ThreadSummary | null> {
    const { rows } = await db.query<ThreadRow>(
      `SELECT ${THREAD_COLUMNS} FROM ${this.t.threads} WHERE thread_id = $1`,
      [threadId],
    );
    return rows[0] ? summaryOf(rows[0]) : null;
  }

  /** In a transaction: locks the row, patches the metadata (the rule in core), writes it. */
  async update(
    db: Queryable,
    threadId: string,
    patch: T.ThreadPatch,
    now: number,
  ): Promise<T.ThreadSummary | null> {
    const { rows } = await db.query<{ metadata: Record<string, unknown> }>(
      `SELECT metadata FROM ${this.t.threads} WHERE thread_id = $1 FOR UPDATE`,
      [threadId],
    );
    if (!rows[0]) return null;
    const metadata = patchedMetadata(rows[0].metadata, patch);
    const updated = await db.query<ThreadRow>(
      `UPDATE ${this.t.threads} SET metadata = $2::json, updated_at = $3 WHERE thread_id = $1
       RETURNING ${THREAD_COLUMNS}`,
      [threadId, json(metadata), now],
    );
    return summaryOf(updated.rows[0]!);
  }

  /**
   * In a transaction: the thread with its log, messages and runs. The row lock comes first, so an
   * append in flight commits before and its events go too; appends after it find no thread.
   */
  async delete(db: Queryable, threadId: string): Promise<boolean> {
    const locked = await this.lock(db, threadId);
    if (!locked) return false;
    const floor = fenceFloorAfterDelete(await this.fenceFloor(db), locked.head.fence_token);
    await db.query(
      `WITH e AS (DELETE FROM ${this.t.events} WHERE thread_id = $1),
         m AS (DELETE FROM ${this.t.messages} WHERE thread_id = $1),
         r AS (DELETE FROM ${this.t.runs} WHERE thread_id = $1),
         f AS (UPDATE ${this.t.counters} SET value = $2 WHERE name = 'fence_floor')
       DELETE FROM ${this.t.threads} WHERE thread_id = $1`,
      [threadId, floor],
    );
    return true;
  }

  /**
   * In a transaction: a compaction step (see `CompactionResult`), under the thread's row lock
   * (a short one: the step is a bounded batch). Null when the thread is unknown.
   */
  async compact(db: Queryable, threadId: string, step: CompactionStep) {
    const { rows } = await db.query<{ last_seq: number; horizon: number }>(
      `SELECT last_seq, horizon FROM ${this.t.threads} WHERE thread_id = $1 FOR UPDATE`,
      [threadId],
    );
    const row = rows[0];
    if (!row) return null;
    const horizon = Math.min(Math.floor(step.horizon), row.last_seq);
    if (horizon <= row.horizon) return { horizon: row.horizon, events: 0, messages: 0, runs: 0 };
    // runCompacted (core/compaction.ts) for the runs.
    const done = await db.query<{ events: number; messages: number; runs: number }>(
      `WITH e AS (DELETE FROM ${this.t.events} WHERE thread_id = $1 AND seq <= $2 RETURNING 1),
         m AS (DELETE FROM ${this.t.messages} WHERE thread_id = $1 AND seq <= $2 RETURNING 1),
         r AS (DELETE FROM ${this.t.runs} WHERE thread_id = $1
           AND status NOT IN ('queued', 'running')
           AND (start_seq <= $2 OR (start_seq IS NULL AND ended_at < $3)) RETURNING 1),
         u AS (UPDATE ${this.t.threads} SET horizon = $2 WHERE thread_id = $1)
       SELECT (SELECT count(*) FROM e)::int AS events, (SELECT count(*) FROM m)::int AS messages,
         (SELECT count(*) FROM r)::int AS runs`,
      [threadId, horizon, step.endedBefore],
    );
    const counts = done.rows[0]!;
    return { horizon, events: counts.events, messages: counts.messages, runs: counts.runs };
  }

  /**
   * A plain VACUUM (not FULL) of the tables compaction, deletion and appends leave dead rows in,
   * so PostgreSQL reuses their space even where autovacuum is off or lags. Never in a
   * transaction (VACUUM refuses one); its lock (SHARE UPDATE EXCLUSIVE) does not conflict with
   * reads or writes, and SKIP_LOCKED passes over a table another vacuum holds (autovacuum).
   * ANALYZE too: where autovacuum is off nothing else gives the planner statistics, and without
   * them it cannot tell a thread's one row in the runs table from all of them (it took the
   * index by creation order over the primary key for a run's lookup, reading every run of the
   * thread; issue 14). A sample of each table: cheap beside the vacuum.
   */
  async vacuum(db: Queryable): Promise<void> {
    const t = this.t;
    await db.query(
      `VACUUM (ANALYZE, SKIP_LOCKED) ${t.events}, ${t.messages}, ${t.runs}, ${t.threads}, ${t.claims}`,
    );
  }

  /** Read under the caller's transaction; raised only by deletions, which lock its row. */
  private async fenceFloor(db: Queryable): Promise<number> {
    const { rows } = await db.query<{ value: number }>(
      `SELECT value FROM ${this.t.counters} WHERE name = 'fence_floor' FOR UPDATE`,
    );
    return rows[0]?.value ?? 0;
  }

  /**
   * Locks the thread's row for the rest of the transaction (writers of a thread serialise on
   * it) and reads what a fenced write needs of the thread and, when `runId` is given, of that run.
   */
  async lock(
    db: Queryable,
    threadId: string,
    runId: string | null = null,
    opts: { interrupts?: boolean } = {},
  ): Promise<{ head: ThreadHead; run: RunBrief | undefined } | undefined> {
    // The pending interrupts' ids only for an enqueue that checks them.
    const ids = opts.interrupts
      ? `(SELECT coalesce(json_agg(e->>'id'), '[]') FROM json_array_elements(t.interrupts) e)`
      : "NULL";
    const { rows } = await db.query<ThreadHead & NullableBrief>(
      `SELECT t.last_seq, t.active_run_id, t.fence_token, t.next_position,
         ${ids} AS interrupt_ids, r.status,
         r.lease_owner, r.lease_token, r.lease_expires_at, r.cancel_requested
       FROM ${this.t.threads} t
       LEFT JOIN ${this.t.runs} r ON r.thread_id = t.thread_id AND r.run_id = $2
       WHERE t.thread_id = $1 FOR UPDATE OF t`,
      [threadId, runId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const { last_seq, active_run_id, fence_token, next_position, interrupt_ids } = row;
    const { status, lease_owner, lease_token, lease_expires_at, cancel_requested } = row;
    const lease = { lease_owner, lease_token, lease_expires_at, cancel_requested };
    return {
      head: {
        last_seq,
        active_run_id,
        fence_token,
        next_position,
        ...(interrupt_ids ? { interrupt_ids } : {}),
      },
      run:
        status === null
          ? undefined
          : { status, ...lease, cancel_requested: lease.cancel_requested === true },
    };
  }

  /** One statement, so one snapshot: messages and state match `lastSeq`. */
  async view(db: Queryable, threadId: string): Promise<T.ThreadView | null> {
    const { rows } = await db.query<ThreadRow & { state: unknown; messages: Message[] | null }>(
      `SELECT ${THREAD_COLUMNS}, state,
         (SELECT json_agg(m.body ORDER BY m.position) FROM ${this.t.messages} m
          WHERE m.thread_id = t.thread_id) AS messages
       FROM ${this.t.threads} t WHERE thread_id = $1`,
      [threadId],
    );
    return rows[0] ? viewOf(rows[0]) : null;
  }

  async list(db: Queryable, limit: number, offset: number): Promise<T.ThreadSummary[]> {
    const { rows } = await db.query<ThreadRow>(
      `SELECT ${THREAD_COLUMNS} FROM ${this.t.threads}
       ORDER BY updated_at DESC, thread_id COLLATE "C" LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    return rows.map(summaryOf);
  }

  /** The due index (`ThreadLog.interruptsDue`): `until` null is any time. */
  async interruptsDue(
    db: Queryable,
    until: number | null,
    limit: number,
  ): Promise<{ threadId: string; dueAt: number }[]> {
    const { rows } = await db.query<{ thread_id: string; due: string }>(
      `SELECT thread_id, interrupts_due_at AS due FROM ${this.t.threads}
       WHERE interrupts_due_at IS NOT NULL AND interrupts_due_at <= $1
       ORDER BY interrupts_due_at, thread_id COLLATE "C" LIMIT $2`,
      [until ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return rows.map((r) => ({ threadId: r.thread_id, dueAt: Number(r.due) }));
  }

  /** Along the primary key (the database's collation, both ways): see `ThreadLog.listAfter`. */
  async listAfter(db: Queryable, after: string, limit: number): Promise<T.ThreadSummary[]> {
    const { rows } = await db.query<ThreadRow>(
      `SELECT ${THREAD_COLUMNS} FROM ${this.t.threads} WHERE thread_id > $1
       ORDER BY thread_id LIMIT $2`,
      [after, limit],
    );
    return rows.map(summaryOf);
  }

  async lastSeq(db: Queryable, threadId: string): Promise<number> {
    const { rows } = await db.query<{ last_seq: number }>(
      `SELECT last_seq FROM ${this.t.threads} WHERE thread_id = $1`,
      [threadId],
    );
    return rows[0]?.last_seq ?? 0;
  }

  async read(
    db: Queryable,
    threadId: string,
    after: number,
    limit: number,
  ): Promise<T.EventRecord[]> {
    const { rows } = await db.query<EventRow>(
      `SELECT seq, run_id, at, event FROM ${this.t.events}
       WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [threadId, after, limit],
    );
    return rows.map(recordOf);
  }

  /** `read`'s rows with the event as stored: `event::text` of a json column is its input text. */
  async readText(
    db: Queryable,
    threadId: string,
    after: number,
    limit: number,
  ): Promise<T.EventText[]> {
    const { rows } = await db.query<[number, string, string]>({
      text: `SELECT seq, run_id, event::text FROM ${this.t.events}
       WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      values: [threadId, after, limit],
      // Rows as arrays: no object with named fields per row that is dropped at once.
      rowMode: "array",
    });
    return rows.map(([seq, runId, json]) => ({ seq, runId, json }));
  }

  async setActive(
    db: Queryable,
    threadId: string,
    runId: string | null,
    fenceToken: number,
  ): Promise<void> {
    await db.query(
      `UPDATE ${this.t.threads} SET active_run_id = $2, fence_token = $3 WHERE thread_id = $1`,
      [threadId, runId, fenceToken],
    );
  }
}
