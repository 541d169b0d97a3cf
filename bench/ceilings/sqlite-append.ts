/**
 * The SQLite ceiling of scenario 1: better-sqlite3 alone, the same statements and transactions
 * Threadline's SQLite store runs for one run — mirrors src/stores/sqlite/run-queue.ts (enqueue,
 * claimNext), runs.ts, threads.ts (head, view, insertEvents in chunks of 64, applyView,
 * saveAppend) and append.ts (appendInTransaction). When those files change, change this one:
 * the ceiling is only a ceiling while it does the same writes. The schema is the store's own
 * (its migrations, run once before the clock starts).
 */
import Database from "better-sqlite3";
import { migrate } from "../../src/stores/sqlite/schema.js";
import { type AppendCeiling, type CeilingRun, LEASE_MS, OWNER } from "./payload.js";

/** Threadline's INSERT_CHUNK (src/stores/sqlite/threads.ts). */
const CHUNK = 64;

export function sqliteAppendCeiling(path: string): AppendCeiling {
  const db = new Database(path, { timeout: 5000 });
  // src/stores/sqlite/connection.ts: WAL, synchronous NORMAL.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  migrate(db);
  const s = {
    summary: db.prepare(
      `SELECT thread_id, created_at, updated_at, last_seq, horizon, active_run_id, metadata,
         interrupts FROM threads WHERE thread_id = ?`,
    ),
    ensure: db.prepare(
      `INSERT INTO threads (thread_id, created_at, updated_at, metadata)
       VALUES (?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING`,
    ),
    head: db.prepare<
      [string],
      { last_seq: number; active_run_id: string | null; fence_token: number; next_position: number }
    >(
      "SELECT last_seq, active_run_id, fence_token, next_position FROM threads WHERE thread_id = ?",
    ),
    brief: db.prepare(
      `SELECT status, lease_owner, lease_token, lease_expires_at, cancel_requested FROM runs
       WHERE thread_id = ? AND run_id = ?`,
    ),
    queueBounds: db.prepare<[string], { lo: number | null; hi: number | null; n: number }>(
      `SELECT min(queue_pos) AS lo, max(queue_pos) AS hi, count(*) AS n FROM runs
       WHERE thread_id = ? AND queue_pos IS NOT NULL`,
    ),
    insertRun: db.prepare(
      `INSERT INTO runs (thread_id, run_id, agent_id, trigger_json, input_json, status,
         created_at, queue_pos, started_by) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
    ),
    getRun: db.prepare("SELECT * FROM runs WHERE thread_id = ? AND run_id = ?"),
    queueHead: db
      .prepare<[string], string>(
        `SELECT run_id FROM runs WHERE thread_id = ? AND queue_pos IS NOT NULL
         ORDER BY queue_pos LIMIT 1`,
      )
      .pluck(),
    floor: db.prepare("SELECT value FROM counters WHERE name = 'fence_floor'").pluck(),
    start: db.prepare(
      `UPDATE runs SET status = 'running', started_at = ?, queue_pos = NULL,
         lease_owner = ?, lease_token = ?, lease_expires_at = ?
       WHERE thread_id = ? AND run_id = ?`,
    ),
    setActive: db.prepare(
      "UPDATE threads SET active_run_id = ?, fence_token = ? WHERE thread_id = ?",
    ),
    thread: db.prepare("SELECT * FROM threads WHERE thread_id = ?"),
    messages: db.prepare("SELECT json FROM messages WHERE thread_id = ? ORDER BY position"),
    startSeq: db.prepare(
      "UPDATE runs SET start_seq = ? WHERE thread_id = ? AND run_id = ? AND start_seq IS NULL",
    ),
    end: db.prepare(
      `UPDATE runs SET status = ?, ended_at = ?, error_json = coalesce(?, error_json),
         queue_pos = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE thread_id = ? AND run_id = ?`,
    ),
    messagePosition: db
      .prepare<[string, string], number>(
        "SELECT position FROM messages WHERE thread_id = ? AND message_id = ?",
      )
      .pluck(),
    insertMessage: db.prepare(
      "INSERT INTO messages (thread_id, position, message_id, json, seq) VALUES (?, ?, ?, ?, ?)",
    ),
    saveAppend: db.prepare(
      `UPDATE threads SET last_seq = ?, active_run_id = ?, updated_at = ?, next_position = ?
       WHERE thread_id = ?`,
    ),
    lastSeq: db
      .prepare<[string], number>("SELECT last_seq FROM threads WHERE thread_id = ?")
      .pluck(),
  };
  const inserts = new Map<number, Database.Statement>();
  const insertOf = (rows: number) => {
    let stmt = inserts.get(rows);
    if (!stmt) {
      const values = Array.from({ length: rows }, () => "(?, ?, ?, ?, ?)").join(", ");
      stmt = db.prepare(`INSERT INTO events (thread_id, seq, run_id, at, event) VALUES ${values}`);
      inserts.set(rows, stmt);
    }
    return stmt;
  };
  const write = <T>(fn: () => T): T => db.transaction(fn).immediate();

  /** run-queue.ts enqueue (strategy enqueue: a fresh thread has no active or queued run). */
  const enqueue = (r: CeilingRun, now: number) =>
    write(() => {
      s.ensure.run(r.threadId, now, now, "{}");
      s.head.get(r.threadId);
      s.brief.get(r.threadId, r.runId);
      s.queueBounds.get(r.threadId);
      const b = s.queueBounds.get(r.threadId);
      s.insertRun.run(
        r.threadId,
        r.runId,
        r.agentId,
        r.triggerJson,
        r.inputJson,
        now,
        (b?.hi ?? 0) + 1,
        null,
      );
      return s.getRun.get(r.threadId, r.runId);
    });
  /** run-queue.ts claimNext; the token is nextFenceToken (floor and current, + 1). */
  const claim = (threadId: string, now: number) =>
    write(() => {
      const t = s.head.get(threadId);
      if (!t || t.active_run_id !== null) return null;
      const runId = s.queueHead.get(threadId);
      if (runId === undefined) return null;
      const token = Math.max(Number(s.floor.get() ?? 0), t.fence_token) + 1;
      s.start.run(now, OWNER, token, now + LEASE_MS, threadId, runId);
      s.setActive.run(runId, token, threadId);
      s.getRun.get(threadId, runId);
      return token;
    });
  /** append.ts appendInTransaction: the run's whole stream in one batch, as Threadline commits it. */
  const append = (r: CeilingRun, now: number) =>
    write(() => {
      const t = s.head.get(r.threadId)!;
      s.brief.get(r.threadId, r.runId);
      const first = t.last_seq + 1;
      s.startSeq.run(first, r.threadId, r.runId);
      s.end.run("succeeded", now, null, r.threadId, r.runId);
      for (let i = 0; i < r.events.length; i += CHUNK) {
        const n = Math.min(CHUNK, r.events.length - i);
        const params: unknown[] = [];
        for (let k = 0; k < n; k++)
          params.push(r.threadId, first + i + k, r.runId, now, r.events[i + k]);
        insertOf(n).run(params);
      }
      const lastSeq = t.last_seq + r.events.length;
      let position = t.next_position;
      for (const m of r.messages) {
        if (s.messagePosition.get(r.threadId, m.id) === undefined) {
          s.insertMessage.run(r.threadId, position, m.id, m.json, lastSeq);
          position += 1;
        }
      }
      s.saveAppend.run(lastSeq, null, now, position, r.threadId);
    });

  return {
    async runOne(r, phases) {
      phases.sync("head", () => s.summary.get(r.threadId));
      phases.sync("enqueue", () => enqueue(r, Date.now()));
      phases.sync("claim", () => claim(r.threadId, Date.now()));
      // The run's executor reads the view (a snapshot) and the run.
      phases.sync("reads", () => {
        db.transaction(() => [s.thread.get(r.threadId), s.messages.all(r.threadId)]).deferred();
        s.getRun.get(r.threadId, r.runId);
      });
      phases.sync("append", () => append(r, Date.now()));
      phases.sync("claim (empty)", () => claim(r.threadId, Date.now()));
    },
    eventCount: async (threadId) => s.lastSeq.get(threadId) ?? 0,
    async close() {
      db.close();
    },
  };
}
