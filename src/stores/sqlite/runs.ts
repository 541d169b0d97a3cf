import type Database from "better-sqlite3";
import type { RunActor, RunLease, RunRecord, RunStatus } from "../../core/types.js";
import { queuedRunValues } from "../records.js";
import { json, type RunBrief, type RunRow, runOf } from "./rows.js";

/** Run rows and the per-thread FIFO queue (`queue_pos`). Callers own the transactions. */
export class RunTable {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      get: db.prepare<[string, string], RunRow>(
        "SELECT * FROM runs WHERE thread_id = ? AND run_id = ?",
      ),
      brief: db.prepare<[string, string], RunBrief>(
        `SELECT status, lease_owner, lease_token, lease_expires_at, cancel_requested FROM runs
         WHERE thread_id = ? AND run_id = ?`,
      ),
      insert: db.prepare(
        `INSERT INTO runs (thread_id, run_id, agent_id, trigger_json, input_json, status,
           created_at, queue_pos, started_by, trace) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)`,
      ),
      queueBounds: db.prepare<[string], { lo: number | null; hi: number | null; n: number }>(
        `SELECT min(queue_pos) AS lo, max(queue_pos) AS hi, count(*) AS n FROM runs
         WHERE thread_id = ? AND queue_pos IS NOT NULL`,
      ),
      head: db
        .prepare<[string], string>(
          `SELECT run_id FROM runs WHERE thread_id = ? AND queue_pos IS NOT NULL
           ORDER BY queue_pos LIMIT 1`,
        )
        .pluck(),
      start: db.prepare(
        `UPDATE runs SET status = 'running', started_at = ?, queue_pos = NULL,
           lease_owner = ?, lease_token = ?, lease_expires_at = ?
         WHERE thread_id = ? AND run_id = ?`,
      ),
      lease: db.prepare(
        `UPDATE runs SET lease_owner = ?, lease_token = ?, lease_expires_at = ?
         WHERE thread_id = ? AND run_id = ?`,
      ),
      startSeq: db.prepare(
        "UPDATE runs SET start_seq = ? WHERE thread_id = ? AND run_id = ? AND start_seq IS NULL",
      ),
      end: db.prepare(
        `UPDATE runs SET status = ?, ended_at = ?, error_json = coalesce(?, error_json),
           queue_pos = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
         WHERE thread_id = ? AND run_id = ?`,
      ),
      cancel: db.prepare("UPDATE runs SET cancel_requested = 1 WHERE thread_id = ? AND run_id = ?"),
      cancelledBy: db.prepare(
        `UPDATE runs SET cancelled_by = ? WHERE thread_id = ? AND run_id = ?
           AND cancelled_by IS NULL AND status IN ('queued', 'running')`,
      ),
      deleteAll: db.prepare("DELETE FROM runs WHERE thread_id = ?"),
      // runCompacted (core/compaction.ts)
      compact: db.prepare(
        `DELETE FROM runs WHERE thread_id = ? AND status NOT IN ('queued', 'running')
         AND (start_seq <= ? OR (start_seq IS NULL AND ended_at < ?))`,
      ),
      list: db.prepare<[string, number, number], RunRow>(
        "SELECT * FROM runs WHERE thread_id = ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
      ),
      running: db.prepare<[], RunRow>("SELECT * FROM runs WHERE status = 'running'"),
      stale: db.prepare<[number], RunRow>(
        `SELECT * FROM runs WHERE status = 'running'
         AND (lease_expires_at IS NULL OR lease_expires_at <= ?)`,
      ),
      idle: db
        .prepare<[], string>(
          `SELECT DISTINCT r.thread_id FROM runs r JOIN threads t ON t.thread_id = r.thread_id
           WHERE r.queue_pos IS NOT NULL AND t.active_run_id IS NULL ORDER BY r.thread_id`,
        )
        .pluck(),
    };
  }

  row(threadId: string, runId: string): RunRow | undefined {
    return this.s.get.get(threadId, runId);
  }

  /** What fence and lease checks need of a run; skips its input JSON. */
  brief(threadId: string, runId: string): RunBrief | undefined {
    return this.s.brief.get(threadId, runId);
  }

  get(threadId: string, runId: string): RunRecord | null {
    const row = this.row(threadId, runId);
    return row ? runOf(row) : null;
  }

  queued(threadId: string): number {
    return this.s.queueBounds.get(threadId)?.n ?? 0;
  }

  /** Inserts a queued run at the tail of the queue, or at its head when `first`. */
  insert(run: RunRecord, first: boolean): void {
    const b = this.s.queueBounds.get(run.threadId);
    const pos = first ? (b?.lo ?? 1) - 1 : (b?.hi ?? 0) + 1;
    this.s.insert.run(...queuedRunValues(run, pos));
  }

  /** The id of the run at the head of the thread's queue. */
  head(threadId: string): string | undefined {
    return this.s.head.get(threadId);
  }

  start(threadId: string, runId: string, lease: RunLease, now: number): void {
    this.s.start.run(now, lease.owner, lease.token, lease.expiresAt, threadId, runId);
  }

  setLease(threadId: string, runId: string, lease: RunLease): void {
    this.s.lease.run(lease.owner, lease.token, lease.expiresAt, threadId, runId);
  }

  setStartSeq(threadId: string, runId: string, seq: number): void {
    this.s.startSeq.run(seq, threadId, runId);
  }

  /** Ends the run: leaves the queue, drops its lease. */
  end(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ): void {
    this.s.end.run(status, now, error ? json(error) : null, threadId, runId);
  }

  requestCancel(threadId: string, runId: string): void {
    this.s.cancel.run(threadId, runId);
  }

  /** Records who cancels a run still queued or running (the first to ask). */
  setCancelledBy(threadId: string, runId: string, by: RunActor): void {
    this.s.cancelledBy.run(json(by), threadId, runId);
  }

  /** Every run of the thread, queued, running or ended (the thread is being deleted). */
  deleteAll(threadId: string): void {
    this.s.deleteAll.run(threadId);
  }

  /** The runs a compaction step removes (see `runCompacted`); returns how many. */
  compact(threadId: string, horizon: number, endedBefore: number): number {
    return this.s.compact.run(threadId, horizon, endedBefore).changes;
  }

  list(threadId: string, limit: number, offset: number): RunRecord[] {
    return this.s.list.all(threadId, limit, offset).map(runOf);
  }

  stale(now: number, all: boolean): RunRecord[] {
    return (all ? this.s.running.all() : this.s.stale.all(now)).map(runOf);
  }

  idleThreadsWithQueue(): string[] {
    return this.s.idle.all();
  }
}
