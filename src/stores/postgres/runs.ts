import type { RunActor, RunLease, RunRecord, RunStatus } from "../../core/types.js";
import { queuedRunValues } from "../records.js";
import type { Queryable } from "./connection.js";
import { json, RUN_COLUMNS, type RunRow, runOf } from "./rows.js";
import type { Tables } from "./schema.js";

/** Run rows and the per-thread FIFO queue (`queue_pos`). Callers own the transactions. */
export class RunTable {
  constructor(private readonly t: Tables) {}

  async get(db: Queryable, threadId: string, runId: string): Promise<RunRecord | null> {
    const { rows } = await db.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM ${this.t.runs} WHERE thread_id = $1 AND run_id = $2`,
      [threadId, runId],
    );
    return rows[0] ? runOf(rows[0]) : null;
  }

  /**
   * Inserts a queued run at the head or the tail of the thread's queue, in one statement with
   * the queue's bounds it needs (read after the caller's row lock, so every enqueue committed
   * before it counts), when the queue's state is one `when` allows: `empty` (no queued run) or
   * `queued` (some). Returns the run (null when not inserted) and how many runs were queued.
   */
  async insertQueued(
    db: Queryable,
    run: RunRecord,
    at: "head" | "tail",
    when: { empty: boolean; queued: boolean },
  ): Promise<{ run: RunRecord | null; queued: number }> {
    const pos = at === "head" ? "coalesce(b.lo, 1) - 1" : "coalesce(b.hi, 0) + 1";
    const allowed =
      when.empty && when.queued
        ? "true"
        : when.empty
          ? "b.n = 0"
          : when.queued
            ? "b.n > 0"
            : "false";
    const [threadId, runId, agentId, trigger, input, createdAt, , startedBy, trace] =
      queuedRunValues(run, 0);
    const { rows } = await db.query<RunRow & { queued_before: number }>(
      `WITH b AS (
         SELECT min(queue_pos) AS lo, max(queue_pos) AS hi, count(*)::int AS n FROM ${this.t.runs}
         WHERE thread_id = $1 AND queue_pos IS NOT NULL
       ), ins AS (
         INSERT INTO ${this.t.runs} (thread_id, run_id, agent_id, trigger, input, status,
           created_at, queue_pos, started_by, trace)
         SELECT $1::text, $2::text, $3::text, $4::json, $5::json, 'queued', $6::bigint, ${pos},
           $7::json, $8::json
         FROM b WHERE ${allowed}
         RETURNING ${RUN_COLUMNS}
       ) SELECT b.n AS queued_before, ins.* FROM b LEFT JOIN ins ON true`,
      [threadId, runId, agentId, trigger, input, createdAt, startedBy, trace],
    );
    const row = rows[0]!;
    return { run: row.run_id !== null ? runOf(row) : null, queued: row.queued_before };
  }

  /** `nextFenceToken(floor, $n)` in SQL: the next token for a thread holding token `$n`. */
  private nextToken(n: number): string {
    return `greatest((SELECT value FROM ${this.t.counters} WHERE name = 'fence_floor'),
      $${n}::bigint) + 1`;
  }

  /**
   * The claim as ONE statement in autocommit (`RunQueue.claimNext`): when the thread is idle and
   * has a queued run, locks its row, starts the run at the head of its queue under a new lease
   * (its token issued above the thread's) and makes it the active run. `locked` says whether
   * the row lock was taken; `run` is null when nothing was claimed.
   *
   * The idle-and-queued test is `lk`'s WHERE, read first from the statement's snapshot: a
   * thread with an empty queue or an active run is neither locked nor written (no write
   * transaction to find an empty queue, as after every run's end). Race-free against an
   * enqueue from any instance committed meanwhile: every enqueuer claims on its own after its
   * commit (the coordinator's pump), and of two commits (that enqueue, the end of the active
   * run) the later one's claim sees the other's; a claim that missed a run the snapshot did not
   * hold yet was concurrent with its enqueue, and that enqueuer's claim finds it. Once locked,
   * the row is re-read and re-checked (EvalPlanQual), so two claims never both win: the loser
   * sees the winner's active run. The head's id comes from the snapshot too; the UPDATE
   * re-checks it is still queued (a cancel may have taken it off), and a claim that locked an
   * idle thread without starting anything tells the caller to look again (`locked`), with a
   * snapshot taken after that cancel. The head is a scalar subquery, so the UPDATE is a
   * primary-key lookup whatever the planner knows (issue 14).
   */
  async claimHead(
    db: Queryable,
    threadId: string,
    lease: Omit<RunLease, "token">,
    now: number,
  ): Promise<{ locked: boolean; run: RunRecord | null }> {
    const { rows } = await db.query<RunRow & { locked: number }>(
      `WITH lk AS (
         SELECT fence_token FROM ${this.t.threads} WHERE thread_id = $1 AND active_run_id IS NULL
           AND EXISTS (SELECT 1 FROM ${this.t.runs} WHERE thread_id = $1 AND queue_pos IS NOT NULL)
         FOR UPDATE
       ), started AS (
         UPDATE ${this.t.runs} r SET status = 'running', started_at = $2, queue_pos = NULL,
           -- nextFenceToken (core/run-rules.ts): above the store's floor and the thread's token.
           lease_owner = $3, lease_expires_at = $4, lease_token = greatest(
             (SELECT value FROM ${this.t.counters} WHERE name = 'fence_floor'), lk.fence_token) + 1
         FROM lk WHERE r.thread_id = $1 AND r.queue_pos IS NOT NULL AND r.run_id = (
           SELECT run_id FROM ${this.t.runs} WHERE thread_id = $1 AND queue_pos IS NOT NULL
           ORDER BY queue_pos LIMIT 1)
         RETURNING ${RUN_COLUMNS.replace(/(\w+)/g, "r.$1")}
       ), active AS (
         UPDATE ${this.t.threads} t SET active_run_id = started.run_id,
           fence_token = started.lease_token
         FROM started WHERE t.thread_id = $1
       ) SELECT started.*, (SELECT count(*) FROM lk)::int AS locked
       FROM (SELECT 1) AS one LEFT JOIN started ON true`,
      [threadId, now, lease.owner, lease.expiresAt],
    );
    const row = rows[0];
    return {
      locked: (row?.locked ?? 0) > 0,
      run: row && row.run_id !== null ? runOf(row) : null,
    };
  }

  /** A new lease for a running run, its token issued above `currentToken`. */
  async takeLease(
    db: Queryable,
    threadId: string,
    runId: string,
    lease: Omit<RunLease, "token">,
    currentToken: number,
  ): Promise<RunRecord> {
    const { rows } = await db.query<RunRow>(
      `UPDATE ${this.t.runs} SET lease_owner = $3, lease_token = ${this.nextToken(4)},
         lease_expires_at = $5
       WHERE thread_id = $1 AND run_id = $2 RETURNING ${RUN_COLUMNS}`,
      [threadId, runId, lease.owner, currentToken, lease.expiresAt],
    );
    return runOf(rows[0]!);
  }

  async extendLease(
    db: Queryable,
    threadId: string,
    runId: string,
    expiresAt: number,
  ): Promise<void> {
    await db.query(
      `UPDATE ${this.t.runs} SET lease_expires_at = $3 WHERE thread_id = $1 AND run_id = $2`,
      [threadId, runId, expiresAt],
    );
  }

  /**
   * The SET list that ends a run (leaves the queue, drops its lease), given the SQL of its three
   * values: shared by `end` and the append's own statement (`ThreadTable.saveAppend`).
   */
  static endAssignments(status: string, endedAt: string, error: string): string {
    return `status = ${status}, ended_at = ${endedAt}, error = coalesce(${error}::json, error),
      queue_pos = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`;
  }

  /** The SET item that records a run's start seq once (a later RUN_STARTED does not move it). */
  static startAssignment(seq: string): string {
    return `start_seq = coalesce(start_seq, ${seq}::bigint)`;
  }

  /** Ends the run: leaves the queue, drops its lease. */
  async end(
    db: Queryable,
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ): Promise<RunRecord | null> {
    const { rows } = await db.query<RunRow>(
      `UPDATE ${this.t.runs} SET ${RunTable.endAssignments("$3", "$4", "$5")}
       WHERE thread_id = $1 AND run_id = $2 RETURNING ${RUN_COLUMNS}`,
      [threadId, runId, status, now, error ? json(error) : null],
    );
    return rows[0] ? runOf(rows[0]) : null;
  }

  /** Records who cancels a run still queued or running (the first to ask). */
  async setCancelledBy(db: Queryable, threadId: string, runId: string, by: RunActor) {
    await db.query(
      `UPDATE ${this.t.runs} SET cancelled_by = $3 WHERE thread_id = $1 AND run_id = $2
         AND cancelled_by IS NULL AND status IN ('queued', 'running')`,
      [threadId, runId, json(by)],
    );
  }

  async requestCancel(db: Queryable, threadId: string, runId: string): Promise<RunRecord | null> {
    const { rows } = await db.query<RunRow>(
      `UPDATE ${this.t.runs} SET cancel_requested = true
       WHERE thread_id = $1 AND run_id = $2 RETURNING ${RUN_COLUMNS}`,
      [threadId, runId],
    );
    return rows[0] ? runOf(rows[0]) : null;
  }

  async list(db: Queryable, threadId: string, limit: number, offset: number): Promise<RunRecord[]> {
    const { rows } = await db.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM ${this.t.runs} WHERE thread_id = $1
       ORDER BY created_order DESC LIMIT $2 OFFSET $3`,
      [threadId, limit, offset],
    );
    return rows.map(runOf);
  }

  /** See `RunQueue.nthNewestStartSeq`: over the thread's runs, which retention keeps few. */
  async nthNewestStartSeq(db: Queryable, threadId: string, n: number): Promise<number | null> {
    if (!Number.isInteger(n) || n < 1) return null;
    const { rows } = await db.query<{ start_seq: number }>(
      `SELECT start_seq FROM ${this.t.runs} WHERE thread_id = $1 AND start_seq IS NOT NULL
       ORDER BY start_seq DESC LIMIT 1 OFFSET $2`,
      [threadId, n - 1],
    );
    return rows[0]?.start_seq ?? null;
  }

  async stale(db: Queryable, now: number, all: boolean): Promise<RunRecord[]> {
    const { rows } = await db.query<RunRow>(
      all
        ? `SELECT ${RUN_COLUMNS} FROM ${this.t.runs} WHERE status = 'running'`
        : `SELECT ${RUN_COLUMNS} FROM ${this.t.runs} WHERE status = 'running'
           AND (lease_expires_at IS NULL OR lease_expires_at <= $1)`,
      all ? [] : [now],
    );
    return rows.map(runOf);
  }

  async idleThreadsWithQueue(db: Queryable): Promise<string[]> {
    const { rows } = await db.query<{ thread_id: string }>(
      `SELECT DISTINCT r.thread_id FROM ${this.t.runs} r
       JOIN ${this.t.threads} t ON t.thread_id = r.thread_id
       WHERE r.queue_pos IS NOT NULL AND t.active_run_id IS NULL
       ORDER BY r.thread_id`,
    );
    return rows.map((r) => r.thread_id);
  }
}
